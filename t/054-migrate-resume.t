# A migration survives the helper's death and a reload, and a drain
# empties a node: the helper is killed with SIGKILL in the middle of a node
# add (the master starts a new one, which resumes from the checkpoints in
# the zone: copies restart, switched shards finish their deletes), then
# nginx is reloaded in the middle of a drain of n1; each ends in the same
# state as an uninterrupted run: every document exactly on its owners with
# the right owner fields, nothing lost, and the drained node empty, so it
# can be removed without force.  rebalance_rate keeps the copies slow
# enough to interrupt them.

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 4, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        rebalance_concurrency 2;
        rebalance_rate 100;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $NDOCS = 300;
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
                                       '{"limit":10000}');
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
    my ($phase) = @_;
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
    is($lost, 0, "$phase: no document lost");
    is($misplaced, 0, "$phase: every document is stored exactly on its owners");
    is($tags, 0, "$phase: every stored copy carries the new owner fields");
    is(scalar @{ node_docs(1) }, 0, "$phase: the drained node n1 is empty")
        if $phase eq 'drain';
    is($old_moved, 0, "$phase: no copy moved between the old nodes")
        if $phase eq 'add';
}

# a search through Miroir sees every document exactly once
sub search_all {
    my ($what) = @_;
    my $res = miroir('POST', '/indexes/movies/search',
                     '{"q":"movie","limit":1000}');
    my $r = eval { $json->decode($res->{content}) } || {};
    my %seen;
    $seen{$_->{id}}++ for @{ $r->{hits} || [] };
    my $dups = grep { $_ > 1 } values %seen;
    ok(keys %seen == $NDOCS && $dups == 0,
       "$what: a search returns every document exactly once ("
       . scalar(keys %seen) . " distinct, $dups repeated)");
}

sub helper_pid {
    my $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
    return $c =~ /"helper":\{"pid":(\d+)/ ? $1 : 0;
}

# wait until at least $n shards are done, or the rebalance is over
sub wait_done {
    my ($n) = @_;
    for (1 .. 300) {
        my $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
        return 1 if $c =~ /"shardsDone":(\d+)/ && $1 >= $n;
        return 0 if $c =~ /^\{"state":"idle"/;
        select undef, undef, undef, 0.05;
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
        ok(seed(), "seeded $NDOCS documents on n1..n3");
        my $addr = Miroir::Nodes::addr(4);
        my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                             id => 'n4', address => $addr,
                             key => 'node-key-0123456789' }));
        is($res->{status}, 202, 'n4 added') or diag($res->{content});
        ok(wait_done(2), 'some shards moved');
        search_all('during the add');
        my $pid = helper_pid();
        ok($pid && kill('KILL', $pid), "helper $pid killed (SIGKILL)");
        like(wait_idle(), qr/^\{"state":"idle","version":\d+,/,
             'a new helper finished the rebalance');
        isnt(helper_pid(), $pid, 'by a new helper process');
        check_nodes('add');
        search_all('after the add');
    }

    if ($block->name =~ /TEST 3:/) {
        my $res = miroir('POST', '/_miroir/nodes/n1/drain');
        is($res->{status}, 202, 'n1 draining') or diag($res->{content});
        ok(wait_done(2), 'some shards moved off n1');
        search_all('during the drain');
    }

    if ($block->name =~ /TEST 4:/) {
        like(wait_idle(), qr/^\{"state":"idle","version":\d+,/,
             'the drain finished after the reload');
        check_nodes('drain');
        search_all('after the drain');
    }

    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 11 + 3 + 3 + 3 + 7 + 3 * 3;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: after the add (helper killed halfway): n4 active
--- request
GET /_miroir/topology
--- response_body_like: "id":"n4","address":"[0-9.:]+","weight":1,"state":"active"
--- no_error_log
[error]



=== TEST 3: drain n1, reload in the middle (this block's HUP)
--- request
GET /_miroir/topology
--- response_body_like: "id":"n1","address":"[0-9.:]+","weight":1,"state":"draining"
--- no_error_log
[error]



=== TEST 4: the drained node holds nothing: removed without force
--- request eval
["DELETE /_miroir/nodes/n1", "GET /_miroir/topology", "GET /_miroir/rebalance"]
--- error_code eval
[202, 200, 200]
--- response_body_like eval
[qr/"change":\{"action":"remove","id":"n1"\},"plan":\{"moves":\[\],/,
 qr/"id":"n1","address":"[0-9.:]+","weight":1,"state":"removed"/,
 qr/^\{"state":"idle",/]
--- no_error_log
[error]
