# Healing: a node that missed writes while it was down (the write path
# marks its copies stale, write_quorum one) is re-synced by the helper once
# it answers again.  The stale copy is emptied first, then copied from a
# fresh owner and counted.  The documents written meanwhile reach it, a
# document deleted meanwhile does not come back, the stale marks are
# cleared, and the health turns green again.  Checked on the node itself.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Client qw(miroir wait_task health);
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 16;
        replication 2;
        write_quorum one;
        master_key "s3cret";
        node_timeout 1s;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;

# the documents node 3 holds, by id
sub on_n3 {
    my $res = Miroir::Nodes::http_post(3, '/indexes/q/documents/fetch',
                                       '{"limit":10000}');
    return {} unless $res->{status} == 200;
    return { map { $_->{id} => $_ } @{ $json->decode($res->{content})->{results} } };
}

# ids whose owners include n3
sub n3_ids {
    my @ids;
    for my $id (@_) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        push @ids, $id if grep { $_ eq 'n3' } @{ $r->{owners} };
    }
    return @ids;
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
        ok(wait_task(miroir('POST', '/indexes/q/documents', $json->encode(
               [ map { { id => $_, v => "old $_" } } 1 .. 40 ]))),
           '40 documents written on every owner');
        Miroir::Nodes::kill_node(3);
        ok(wait_task(miroir('POST', '/indexes/q/documents', $json->encode(
               [ map { { id => $_, v => "new $_" } } 21 .. 60 ]))),
           'node 3 down: 40 documents written (20 new) with quorum one');
        my @gone = grep { my $i = $_; grep { $_ == $i } n3_ids(1 .. 20) } 1 .. 20;
        $::Gone = $gone[0];
        ok(defined $::Gone && wait_task(miroir('DELETE',
               "/indexes/q/documents/$::Gone")),
           "node 3 down: document $::Gone (one of n3's) deleted");
        like(health(), qr/"shardsStale":[1-9]/, 'copies on node 3 are stale');
        Miroir::Nodes::restart_node(3);
    }

    if ($block->name =~ /TEST 3:/) {
        my $h = '';
        for (1 .. 300) {
            $h = health();
            last if $h =~ /"shardsStale":0\}/;
            select undef, undef, undef, 0.1;
        }
        like($h, qr/^\{"status":"green",.*"shardsStale":0\}$/,
             'the stale copies were re-synced: health green');
        my $docs = on_n3();
        my @want = n3_ids(1 .. 60);
        my @missing = grep { $_ != $::Gone && !$docs->{$_} } @want;
        is("@missing", '', 'node 3 holds every document it owns');
        my @old = grep { $_ > 20 && $docs->{$_}
                         && $docs->{$_}{v} ne "new $_" } keys %$docs;
        is("@old", '', 'with the writes it missed');
        ok(!$docs->{$::Gone}, "the deleted document $::Gone did not come back");
        my %want = map { $_ => 1 } @want;
        my @extra = grep { !$want{$_} } keys %$docs;
        is("@extra", '', 'and nothing it does not own');
    }

    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 2 + 5 + 2 + 5 + 2;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",



=== TEST 2: writes while node 3 is down (preprocessor); node 3 back
--- request
GET /_miroir/topology
--- response_body_like: "id":"n3"



=== TEST 3: after healing
--- request
GET /_miroir/health
--- response_body_like: "shardsStale":0\}$
