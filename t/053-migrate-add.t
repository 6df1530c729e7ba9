# Migration end to end on the emulator: a loaded 3-node RF 2 cluster gets a
# fourth node through the admin API; the helper process copies the planned
# shards onto it (documents fetched by `_miroir_shard` from a live owner,
# written with the new owner fields), rewrites the owner fields on the
# owners that keep each shard, switches the shard and deletes it from the
# owner that lost it.  Checked on the nodes themselves: every document is
# stored exactly on its owners under the new table, every stored copy's
# _miroir_o* fields list those owners, copies moved only onto n4, nothing
# was lost.  The documents are seeded directly on the nodes (tagged with the
# owners Miroir reports), so this test does not depend on the write path.
# Blocks run in order with nginx kept up (use_hup): the checks run between
# blocks, while the helper works.

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);

Miroir::Nodes::start(count => 4, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        rebalance_concurrency 4;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

# MIROIR_BENCH_DOCS=N makes it a throughput measurement (bench/README.md)
my $NDOCS = $ENV{MIROIR_BENCH_DOCS} || 300;
my $t_add;
my $json = JSON::PP->new->canonical;
my %before;     # id => { node index => 1 }

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    my $res = HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
    return $res;
}

sub node_task {
    my ($i, $res) = @_;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 0 unless defined $uid;
    for (1 .. 200) {
        my $t = Miroir::Nodes::http_get($i, "/tasks/$uid");
        my $st = eval { $json->decode($t->{content})->{status} } // '';
        return $st eq 'succeeded' if $st =~ /^(succeeded|failed|canceled)$/;
        select undef, undef, undef, 0.05;
    }
    return 0;
}

sub node_docs {
    my ($i) = @_;
    my $res = Miroir::Nodes::http_post($i, '/indexes/movies/documents/fetch',
                                       '{"limit":1000000}');
    return [] unless $res->{status} == 200;
    return $json->decode($res->{content})->{results};
}

sub seed {
    my $ok = 1;
    for my $i (1 .. 3) {
        $ok &&= node_task($i, Miroir::Nodes::http_post($i, '/indexes',
                    '{"uid":"movies","primaryKey":"id"}'));
        $ok &&= node_task($i, Miroir::Nodes::http_patch($i,
                    '/indexes/movies/settings',
                    '{"filterableAttributes":["_miroir_shard","_miroir_o0",'
                    . '"_miroir_o1"]}'));
    }
    my %docs;
    for my $id (1 .. $NDOCS) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        my @o = @{ $r->{owners} };
        my %d = (id => $id, title => "movie $id", _miroir_shard => $r->{shard},
                 _miroir_o0 => $o[0], _miroir_o1 => $o[1]);
        for my $n (@o) {
            my ($k) = $n =~ /^n(\d)$/;
            push @{ $docs{$k} }, \%d;
            $before{$id}{$k} = 1;
        }
    }
    for my $i (1 .. 3) {
        $ok &&= node_task($i, Miroir::Nodes::http_post($i,
                    '/indexes/movies/documents', $json->encode($docs{$i})));
    }
    return $ok;
}

sub wait_idle {
    for (1 .. 300) {
        my $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
        return $c if $c =~ /^\{"state":"idle"/;
        select undef, undef, undef, 0.1;
    }
    return miroir('GET', '/_miroir/rebalance')->{content};
}

sub check_nodes {
    my (%where, %bad);
    for my $i (1 .. 4) {
        for my $d (@{ node_docs($i) }) {
            $where{$d->{id}}{$i} = [$d->{_miroir_o0}, $d->{_miroir_o1}];
        }
    }
    my ($lost, $misplaced, $tags, $old_moved, $on_n4) = (0, 0, 0, 0, 0);
    for my $id (1 .. $NDOCS) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        my @o = @{ $r->{owners} };
        my %own = map { (/^n(\d)$/)[0] => 1 } @o;
        my $at = $where{$id} || {};
        $lost++ unless %$at;
        $misplaced++ if join(',', sort keys %$at) ne join(',', sort keys %own);
        for my $k (keys %$at) {
            $tags++ if "@{ $at->{$k} }" ne "@o";
            $old_moved++ if $k != 4 && !$before{$id}{$k};
            $on_n4++ if $k == 4;
        }
    }
    is($lost, 0, 'no document lost');
    is($misplaced, 0, 'every document is stored exactly on its new owners');
    is($tags, 0, 'every stored copy carries the new owner fields');
    is($old_moved, 0, 'no copy moved between the old nodes');
    ok($on_n4 > 0.3 * $NDOCS && $on_n4 < 0.7 * $NDOCS,
       "n4 holds about half of the documents' copies ($on_n4)");
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");

    if ($block->name =~ /TEST 2:/) {
        ok(seed(), "seeded $NDOCS documents on n1..n3");
        my $addr = Miroir::Nodes::addr(4);
        my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                             id => 'n4', address => $addr,
                             key => 'node-key-0123456789' }));
        is($res->{status}, 202, 'n4 added') or diag($res->{content});
        $t_add = time;
        like($res->{content},
             qr/"change":\{"action":"add","id":"n4"\},"plan":\{"moves":\[\{"shard"/,
             'with a plan');
    }

    if ($block->name =~ /TEST 4:/) {
        # a write through Miroir after the add reaches the new owners,
        # n4 included (a node this worker only knows from the zone)
        my @docs = map { { id => $_, title => "film $_" } }
                   $NDOCS + 1 .. $NDOCS + 40;
        my $res = miroir('POST', '/indexes/movies/documents',
                         $json->encode(\@docs));
        my $uid = eval { $json->decode($res->{content})->{taskUid} };
        my $st = '';
        for (1 .. 100) {
            $st = miroir('GET', "/tasks/$uid")->{content} // '';
            last if $st =~ /"status":"(succeeded|failed)"/;
            select undef, undef, undef, 0.1;
        }
        like($st, qr/"status":"succeeded"/, 'a write after the add succeeds');
        my (%where, $bad, $n4);
        for my $i (1 .. 4) {
            $where{$_->{id}}{$i} = 1 for @{ node_docs($i) };
        }
        $bad = 0;
        $n4 = 0;
        for my $d (@docs) {
            my $r = $json->decode(miroir('GET', "/_miroir/shards/$d->{id}")->{content});
            my $own = join ',', sort map { (/^n(\d)$/)[0] } @{ $r->{owners} };
            $bad++ if join(',', sort keys %{ $where{$d->{id}} || {} }) ne $own;
            $n4++ if $where{$d->{id}}{4};
        }
        is($bad, 0, 'each new document is stored on its owners');
        ok($n4 > 0, "n4 got its share of them ($n4)");
    }

    if ($block->name =~ /TEST 3:/) {
        my $st = wait_idle();
        like($st, qr/^\{"state":"idle","version":\d+,.*"errors":0,/,
             'the rebalance finished without errors');
        my ($copied) = $st =~ /"documentsCopied":(\d+)/;
        diag(sprintf("migration: %d documents copied in %.1f s",
                     $copied // 0, time - $t_add)) if $ENV{MIROIR_BENCH_DOCS};
        check_nodes();
    }

    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 3 + 3 + 6 + 3 * 3 + 3 + 2;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: n4 added (by the preprocessor, after seeding): joining
--- request
GET /_miroir/topology
--- response_body_like: "id":"n4","address":"[0-9.:]+","weight":1,"state":"joining"
--- no_error_log
[error]



=== TEST 3: after the migration: n4 active, health green, searches see every document once
--- request eval
["GET /_miroir/topology", "GET /_miroir/health",
 "POST /indexes/movies/search\n{\"q\":\"movie\",\"limit\":1000}"]
--- response_body_like eval
[qr/"id":"n4","address":"[0-9.:]+","weight":1,"state":"active"/,
 qr/^\{"status":"green",.*"shardsMoving":0,/,
 qr/"estimatedTotalHits":@{[ $ENV{MIROIR_BENCH_DOCS} || 300 ]}\b/]
--- no_error_log
[error]



=== TEST 4: writes after the migration reach the new node (checked by the preprocessor)
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle",
