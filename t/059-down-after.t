# down_after: a node that stays down longer than down_after is evicted by
# the helper.  Its copies are re-created on the other nodes from the
# surviving copies, so every shard is back to two live copies and the
# health is green again, while the node stays listed as `evicted` (in the
# zone across a reload, and in the state file).  When the node answers
# again for down_after, the helper empties it (its copies missed every
# write since) and takes it back as a joining node: the table moves copies
# only onto it, back to its share.  Checked on the nodes themselves: every
# document sits exactly on its owners, the documents written and deleted
# while the node was out are right on it too, and a search returns every
# document exactly once.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Client qw(miroir wait_task);
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 16;
        replication 2;
        master_key "s3cret";
        node_timeout 1s;
        down_after 2s;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;
my %model;          # id => value of the acknowledged documents

sub get_json {
    my $c = miroir('GET', $_[0])->{content} // '';
    return eval { $json->decode($c) } || {};
}

# wait (at most 60 s) until n3 has the state, nothing moves, health green
sub wait_state {
    my ($state) = @_;
    my $why = '';
    for (1 .. 600) {
        my ($n3) = grep { $_->{id} eq 'n3' }
                   @{ get_json('/_miroir/topology')->{nodes} || [] };
        my $rb = get_json('/_miroir/rebalance');
        my $h = get_json('/_miroir/health');
        $why = "n3 " . ($n3 ? $n3->{state} : '?') . ", rebalance "
               . ($rb->{state} // '?') . ", health " . ($h->{status} // '?');
        return 1 if $n3 && $n3->{state} eq $state
                    && ($rb->{state} // '') eq 'idle'
                    && ($h->{status} // '') eq 'green';
        select undef, undef, undef, 0.1;
    }
    diag("still $why");
    return 0;
}

# every stored copy, checked against the owners Miroir reports
sub check_nodes {
    my ($label, @live) = @_;
    my (%at, $bad, $tags, $lost, $extra);
    for my $i (@live) {
        my $res = Miroir::Nodes::http_post($i, '/indexes/q/documents/fetch',
                                           '{"limit":100000}');
        next unless $res->{status} == 200;
        for my $d (@{ $json->decode($res->{content})->{results} }) {
            push @{ $at{$d->{id}} }, [ "n$i", $d ];
        }
    }
    ($bad, $tags, $lost, $extra) = (0, 0, 0, 0);
    for my $id (keys %at) {
        $extra++ unless exists $model{$id};
    }
    for my $id (sort keys %model) {
        my $copies = $at{$id} || [];
        $lost++ unless @$copies;
        my $r = get_json("/_miroir/shards/$id");
        my @own = @{ $r->{owners} || [] };
        my @on = sort map { $_->[0] } @$copies;
        $bad++ if "@on" ne join ' ', sort @own;
        for my $c (@$copies) {
            $tags++ if $c->[1]{v} ne $model{$id}
                       || join(' ', map { $c->[1]{"_miroir_o$_"} // '?' }
                                    0 .. 1) ne "@own";
        }
    }
    is($lost, 0, "$label: no document lost");
    is($extra, 0, "$label: no deleted document stored anywhere");
    is($bad, 0, "$label: every document is on exactly its two owners");
    is($tags, 0, "$label: every copy has the acknowledged value and owner tags");
    my $s = $json->decode(miroir('POST', '/indexes/q/search',
                                 '{"q":"","limit":1000}')->{content} || '{}');
    my %seen;
    $seen{$_->{id}}++ for @{ $s->{hits} || [] };
    my @twice = grep { $seen{$_} > 1 } keys %seen;
    is(join(',', sort { $a <=> $b } keys %seen),
       join(',', sort { $a <=> $b } keys %model),
       "$label: a search returns every document");
    is("@twice", '', "$label: and each one once");
}

sub write_docs {
    my (@docs) = @_;
    my $ok = wait_task(miroir('POST', '/indexes/q/documents',
                              $json->encode(\@docs)));
    $model{$_->{id}} = $_->{v} for $ok ? @docs : ();
    return $ok;
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");

    if ($block->name =~ /TEST 2:/) {
        ok(wait_task(miroir('POST', '/indexes', '{"uid":"q","primaryKey":"id"}')),
           'index created');
        ok(write_docs(map { { id => $_, v => "old $_" } } 1 .. 60),
           '60 documents written');
        Miroir::Nodes::kill_node(3);
        ok(wait_state('evicted'), 'n3 killed: evicted after down_after, '
                                  . 'rebalance idle, health green');
        check_nodes('after the eviction', 1, 2);
        ok(write_docs(map { { id => $_, v => "new $_" } } 41 .. 80),
           'n3 out: 40 documents written (20 new)');
        my @del = (1 .. 10);
        ok(wait_task(miroir('POST', '/indexes/q/documents/delete-batch',
                            $json->encode(\@del))),
           'n3 out: 10 documents deleted');
        delete @model{@del};
        my $state = do {
            local $/;
            open my $f, '<', server_root() . '/state/rebalance-main.json'
                or die "state file: $!";
            <$f>;
        };
        like($state, qr/"id":"n3","address":"[^"]+","weight":1,"state":4,"evicted":true/,
             'the eviction is in the state file');
    }

    if ($block->name =~ /TEST 3:/) {
        Miroir::Nodes::restart_node(3);
    }

    if ($block->name =~ /TEST 4:/) {
        ok(wait_state('active'), 'n3 back: emptied, rejoined, rebalance '
                                 . 'idle, health green');
        check_nodes('after the rejoin', 1, 2, 3);
        my $res = Miroir::Nodes::http_post(3, '/indexes/q/documents/fetch',
                                           '{"limit":0}');
        my $n = eval { $json->decode($res->{content})->{total} } // 0;
        ok($n > 0.25 * keys(%model) && $n < keys(%model),
           "n3 holds its share again ($n copies)");
        my $log = do {
            local $/;
            open my $f, '<', server_root() . '/logs/error.log' or die $!;
            <$f>;
        };
        like($log, qr/miroir: event=node_evicted cluster=main node=n3 down_ms=\d+/,
             'the eviction is logged');
        like($log, qr/miroir: event=node_rejoined cluster=main node=n3 /,
             'the rejoin is logged');
    }

    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + (3 + 6 + 3) + 2 * 3 + 3 + (1 + 6 + 3) + 3;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, green
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",
--- no_error_log
[error]



=== TEST 2: n3 killed and evicted (preprocessor); listed as evicted after a reload
--- request eval
["GET /_miroir/topology", "GET /_miroir/health"]
--- response_body_like eval
[qr/"id":"n3","address":"[0-9.:]+","weight":1,"state":"evicted"/,
 qr/^\{"status":"green","reasons":\["node n3 is evicted \(down longer than down_after\)"\]/]
--- no_error_log
[error]



=== TEST 3: n3 restarted (preprocessor)
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":
--- no_error_log
[error]



=== TEST 4: n3 emptied and rejoined (preprocessor)
--- request
GET /_miroir/topology
--- response_body_like: "id":"n3","address":"[0-9.:]+","weight":1,"state":"active"
--- no_error_log
[error]
