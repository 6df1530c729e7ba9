# A move abandoned halfway: n4 is added (its shards are planned, so writes
# reach it and are tagged with the planned owners), documents are written,
# and n4 is drained before the helper copied anything (the rebalance is
# paused).  Its shards go back to their current owners, whose new copies
# carry tags that name n4.  Searches must still see every document exactly
# once: such shards are read by name (ngx_miroir_rb_abandoned()) until the
# helper has found every copy tagged with its owners again.  Checked right
# after the drain, after the resume, and at the end on the nodes.  n4's
# index is made unable to filter by _miroir_shard before the drain (as if
# the helper's CREATE/SETTINGS steps had been cut short): the partial
# copies there must still be deleted (the helper gives n4 an owner's
# settings first), and the shards stay flagged until they are.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Client qw(miroir wait_task);
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 4, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 16;
        replication 2;
        master_key "s3cret";
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;
my $N = 60;

# ids a search returns, and how many are twice
sub search {
    my $s = eval { $json->decode(miroir('POST', '/indexes/q/search',
                                        '{"q":"","limit":1000}')->{content}) }
            || {};
    my %seen;
    $seen{$_->{id}}++ for @{ $s->{hits} || [] };
    return (scalar(keys %seen), scalar(grep { $_ > 1 } values %seen));
}

# copies on n1..n3 whose tags are not their shard's owners
sub mistagged {
    my $bad = 0;
    my %own;
    for my $i (1 .. 3) {
        my $res = Miroir::Nodes::http_post($i, '/indexes/q/documents/fetch',
                                           '{"limit":10000}');
        next unless $res->{status} == 200;
        for my $d (@{ $json->decode($res->{content})->{results} }) {
            $own{$d->{id}} //= join ' ', @{ $json->decode(miroir('GET',
                "/_miroir/shards/$d->{id}")->{content})->{owners} };
            $bad++ if "$d->{_miroir_o0} $d->{_miroir_o1}" ne $own{$d->{id}};
        }
    }
    return $bad;
}

# documents on n4 (0 without the index)
sub n4_count {
    my $res = Miroir::Nodes::http_post(4, '/indexes/q/documents/fetch',
                                       '{"limit":0}');
    return 0 if $res->{status} == 404;
    return -1 unless $res->{status} == 200;
    return $json->decode($res->{content})->{total} // -1;
}

# a task of node i succeeded
sub node_task {
    my ($i, $res) = @_;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 0 unless defined $uid;
    for (1 .. 100) {
        my $c = Miroir::Nodes::http_get($i, "/tasks/$uid")->{content} // '';
        return 1 if $c =~ /"status":"succeeded"/;
        return 0 if $c =~ /"status":"(failed|canceled)"/;
        select undef, undef, undef, 0.1;
    }
    return 0;
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
        is(miroir('POST', '/_miroir/rebalance/pause')->{status}, 200,
           'rebalance paused');
        my $add = miroir('POST', '/_miroir/nodes', $json->encode({
                      id => 'n4', address => Miroir::Nodes::addr(4),
                      key => 'node-key-0123456789' }));
        is($add->{status}, 202, 'n4 added');
        diag($add->{content}) if $ENV{TEST_VERBOSE};
        ok(wait_task(miroir('POST', '/indexes/q/documents', $json->encode(
               [ map { { id => $_, v => "v $_" } } 1 .. $N ]))),
           "$N documents written while n4's shards are planned");
        my $n4 = n4_count();
        ok($n4 > 0, "n4 holds copies of its planned shards ($n4)");
        ok(node_task(4, Miroir::Nodes::http_put(4,
               '/indexes/q/settings/filterable-attributes', '[]')),
           "n4's index cannot filter by _miroir_shard any more");
        my $res = miroir('POST', '/_miroir/nodes/n4/drain');
        is($res->{status}, 202, 'n4 drained: its moves are abandoned');
        diag($res->{content}) if $ENV{TEST_VERBOSE};
        ok(mistagged() > 0, 'copies on the owners carry tags naming n4');
        is_deeply([search()], [$N, 0],
                  'a search right after sees every document once');
        is(miroir('POST', '/_miroir/rebalance/resume')->{status}, 200,
           'rebalance resumed');
    }

    if ($block->name =~ /TEST 3:/) {
        my ($bad, $flagged, $ok) = (1, 1, 1);
        for (1 .. 150) {
            $bad = mistagged();
            ($flagged) = (miroir('GET', '/_miroir/rebalance')->{content} // '')
                         =~ /"shardsRetagging":(\d+)/;
            last if $bad == 0 && defined $flagged && $flagged == 0
                    && n4_count() == 0;
            my @r = search();
            $ok &&= $r[0] == $N && $r[1] == 0;
            select undef, undef, undef, 0.2;
        }
        ok($ok, 'every search meanwhile was complete');
        is($bad, 0, 'every copy carries its owners again');
        is($flagged, 0, 'no shard is read by name any more');
        is(n4_count(), 0, 'the partial copies on n4 (draining) are deleted');
        is_deeply([search()], [$N, 0], 'a search sees every document once');
    }

    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 10 + 2 + 5 + 2;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",
--- no_error_log
[error]



=== TEST 2: n4 added and drained while paused (preprocessor)
--- request
GET /_miroir/rebalance
--- response_body_like: "paused":false



=== TEST 3: after the resume: tags right, searches complete (preprocessor)
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",
