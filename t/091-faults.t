# Faults on one node during task polling, searches, writes and migrations.
# nginx (2 workers) in front of 3 emulated nodes, RF 2, 64 shards,
# connect_timeout 500ms, node_timeout 1s, deadline 3s, rebalance_concurrency
# 2; node n2 (then n1 as a migration source, n5 as a migration target)
# gets each of the emulator's faults in turn: refuse (connections closed),
# hang, slow (2 s), drop mid-response, 500, 503 and garbage (a 2xx whose
# body is not JSON).
#
#   1. Task polling: a write whose node task stays enqueued on n2
#      (pauseTasks), then GET /tasks/:uid and GET /tasks while n2
#      misbehaves: an answer within the deadline (200 with the task still
#      "enqueued"/"processing", or a Meilisearch error object), then the task
#      succeeds once the fault is cleared.
#   2. Searches with the faults t/041 does not cover (refuse, 500, 503,
#      garbage): complete answers from the other owners.  Writes (quorum
#      all) with every fault: an answer within the deadline, 202 or a 5xx
#      error object naming the node.
#   3. rebalance_concurrency: n4 added with no fault, GET
#      /_miroir/rebalance polled during the migration: never more than 2
#      shards copying or switched at once, and 2 reached.
#   4. A drain of n1 while n1 (the copy source) misbehaves, then an add of
#      n5 while n5 (the copy target) misbehaves: the errors show in
#      GET /_miroir/rebalance (progress.errors, lastError); once the fault
#      is cleared the migration completes and every document is stored
#      exactly on its owners, nothing lost.
# Every request through nginx is timed: none may outlive the deadline (3 s)
# by more than a generous margin.  At the end no worker crashed.
# Plain Test::More: this file starts its own nginx and nodes.

use strict;
use warnings;
use Test::More;
use File::Temp ();
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Miroir::Nodes;
use Miroir::Nginx;

my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
plan skip_all => 'TEST_NGINX_LOAD_MODULES not set' unless $module && -f $module;

my $NodeKey = 'node-key-0123456789';
my $NDOCS = 240;
# generous: the deadline is 3 s; valgrind slows nginx down several times
my $Bound = $ENV{TEST_NGINX_USE_VALGRIND} ? 20 : 6;

Miroir::Nodes::start(count => 5, master_key => $NodeKey);

my $dir = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $base = Miroir::Nginx::start(workers => 2, http => <<"_EOC_");
    miroir_zone miroir 2m;
    miroir_state $dir/state;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        connect_timeout 500ms;
        node_timeout 1s;
        deadline 3s;
        rebalance_concurrency 2;
        rebalance_rate 150;
        node n1 $ENV{TEST_NGINX_NODE1} key=$NodeKey;
        node n2 $ENV{TEST_NGINX_NODE2} key=$NodeKey;
        node n3 $ENV{TEST_NGINX_NODE3} key=$NodeKey;
    }
    server {
        listen 127.0.0.1:\$PORT;
        location / { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
_EOC_
ok($base, 'nginx started');

my $json = JSON::PP->new->canonical;
my $slowest = 0;
my $slowest_what = '';

# a request through nginx, timed
sub miroir {
    my ($method, $path, $body) = @_;
    my $t0 = time;
    my $res = HTTP::Tiny->new(timeout => 60, keep_alive => 0)->request(
        $method, "$base$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
    my $dt = time - $t0;
    $res->{elapsed} = $dt;
    if ($dt > $slowest) {
        $slowest = $dt;
        $slowest_what = "$method $path";
    }
    $res->{json} = eval { $json->decode($res->{content}) };
    return $res;
}

sub fault {
    my ($i, $knobs) = @_;
    my $r = Miroir::Nodes::http_post($i, '/_meilisim/faults',
                                     $json->encode($knobs));
    die "faults on n$i: $r->{status} $r->{content}" unless $r->{status} == 200;
}

# SIGUSR1 clears every fault, refuse included
sub clear {
    my ($i) = @_;
    for my $try (1 .. 300) {
        kill 'USR1', Miroir::Nodes::node_pid($i) if $try % 50 == 1;
        my $r = Miroir::Nodes::http_get($i, '/_meilisim/faults');
        return if $r->{status} == 200 && $r->{content} =~ /"refuse":false/
                  && $r->{content} =~ /"hang":false/
                  && $r->{content} =~ /"pauseTasks":false/;
        sleep 0.05;
    }
    my $r = Miroir::Nodes::http_get($i, '/_meilisim/faults');
    my $log = `tail -n 5 $Miroir::Nodes::Dir/node$i.log`;
    die "n$i: faults not cleared: $r->{status} $r->{content}\n$log";
}

sub wait_task {
    my ($uid) = @_;
    my $st = '';
    for (1 .. 300) {
        my $r = miroir('GET', "/tasks/$uid");
        $st = $r->{json}{status} // '';
        return $r if $st =~ /^(succeeded|failed|canceled)$/;
        sleep 0.1;
    }
    return miroir('GET', "/tasks/$uid");
}

sub is_error_object {
    my ($r) = @_;
    my $j = $r->{json};
    return ref $j eq 'HASH' && defined $j->{message} && defined $j->{code}
        && defined $j->{type} && defined $j->{link};
}

my %faults = (
    refuse  => { refuse => JSON::PP::true },
    hang    => { hang => JSON::PP::true },
    slow    => { latencyMs => 2000 },
    drop    => { dropMidResponse => JSON::PP::true },
    500     => { errorRate => 1, errorStatus => 500 },
    503     => { errorRate => 1, errorStatus => 503 },
    garbage => { garbage => JSON::PP::true },
);
my @kinds = qw(refuse hang slow drop 500 503 garbage);

# ---------------------------------------------------------------- seed
my $r = miroir('POST', '/indexes', '{"uid":"movies","primaryKey":"id"}');
is(wait_task($r->{json}{taskUid})->{json}{status}, 'succeeded',
   'index created');
$r = miroir('PATCH', '/indexes/movies/settings',
            '{"searchableAttributes":["title"],'
            . '"filterableAttributes":["genre"]}');
is(wait_task($r->{json}{taskUid})->{json}{status}, 'succeeded',
   'settings set');
my @genres = qw(drama comedy horror);
$r = miroir('POST', '/indexes/movies/documents', $json->encode([
    map { { id => $_, title => "movie $_ title", genre => $genres[$_ % 3] } }
    1 .. $NDOCS ]));
is(wait_task($r->{json}{taskUid})->{json}{status}, 'succeeded',
   "$NDOCS documents added");

# ---------------------------------------------------------------- 1. tasks
# a document id with n2 among its owners: its write makes a task on n2
my $Extra = 1000;
$Extra++ until grep { $_ eq 'n2' }
    @{ miroir('GET', "/_miroir/shards/$Extra")->{json}{owners} || ['n2'] };
for my $kind (@kinds) {
    fault(2, { pauseTasks => JSON::PP::true });
    my $w = miroir('POST', '/indexes/movies/documents',
                   $json->encode([{ id => $Extra, title => "task $kind" }]));
    is($w->{status}, 202, "tasks/$kind: write accepted (n2 tasks paused)");
    my $uid = $w->{json}{taskUid};
    sleep 0.3;
    my $before = miroir('GET', "/tasks/$uid");
    like($before->{json}{status} // '', qr/^(enqueued|processing)$/,
         "tasks/$kind: not finished while n2's task is paused")
        or diag($before->{content});
    fault(2, { pauseTasks => JSON::PP::true, %{ $faults{$kind} } });

    my $one = miroir('GET', "/tasks/$uid");
    my $list = miroir('GET', '/tasks?limit=3');
    for my $x ([ "GET /tasks/$uid", $one ], [ 'GET /tasks', $list ]) {
        my ($what, $res) = @$x;
        my $st = $res->{status};
        my $desc = $st == 200
            ? ($what =~ /limit/ ? 'list' : "status "
               . ($res->{json}{status} // '?'))
            : ($res->{json}{code} // 'no error object');
        note("tasks/$kind: $what -> $st $desc ("
             . sprintf('%.2f s', $res->{elapsed}) . ')');
        cmp_ok($res->{elapsed}, '<', $Bound,
               "tasks/$kind: $what answered within the deadline");
        ok($st == 200 || ($st >= 500 && is_error_object($res)),
           "tasks/$kind: $what: 200 or a 5xx error object ($st)")
            or diag($res->{content});
    }
    if ($one->{status} == 200) {
        # the part n2 could not be asked about holds the status back
        like($one->{json}{status} // '', qr/^(enqueued|processing)$/,
             "tasks/$kind: the task is not finished while n2 has it");
    } else {
        pass("tasks/$kind: an error, not a finished task");
    }

    clear(2);
    my $done = wait_task($uid);
    is($done->{json}{status}, 'succeeded',
       "tasks/$kind: the task succeeds once the fault is cleared");
}

# ---------------------------------------------------------------- 2. search
for my $kind (qw(refuse 500 503 garbage)) {
    fault(2, $kind eq 'refuse' ? $faults{refuse}
                               : { %{ $faults{$kind} }, failRoutes => 'search' });
    my $s = miroir('POST', '/indexes/movies/search',
                   '{"q":"movie","limit":0,"facets":["genre"]}');
    is($s->{status}, 200, "search/$kind: 200") or diag($s->{content});
    is($s->{json}{estimatedTotalHits}, $NDOCS,
       "search/$kind: every document counted once");
    is($s->{json}{facetDistribution}{genre}{drama}, $NDOCS / 3,
       "search/$kind: facet counts complete");
    my $g = miroir('GET', '/indexes/movies/search?q=title&limit=0');
    is($g->{json}{estimatedTotalHits}, $NDOCS,
       "search/$kind: GET search complete too");
    clear(2);
}

# writes (quorum all) into their own index, so "movies" keeps its documents
$r = miroir('POST', '/indexes', '{"uid":"scratch","primaryKey":"id"}');
wait_task($r->{json}{taskUid});
for my $kind (@kinds) {
    fault(2, $faults{$kind});
    my $w = miroir('POST', '/indexes/scratch/documents', $json->encode([
        map { { id => $_, kind => $kind } } 1 .. 20 ]));
    note("write/$kind -> $w->{status} "
         . ($w->{json}{code} // $w->{json}{status} // '')
         . sprintf(' (%.2f s)', $w->{elapsed}));
    cmp_ok($w->{elapsed}, '<', $Bound,
           "write/$kind: answered within the deadline");
    if ($kind eq 'slow') {
        # 2 s of latency against a 1 s node timeout
        ok($w->{status} == 202 || ($w->{status} >= 500 && is_error_object($w)),
           "write/$kind: 202 or an error object ($w->{status})");
    } elsif ($kind eq 'garbage') {
        # n2 wrote the documents but its answer has no taskUid: Miroir
        # cannot follow n2's task, so quorum "all" is not met
        ok($w->{status} >= 500 && is_error_object($w),
           "write/$kind: a 5xx error object ($w->{status})");
    } else {
        ok($w->{status} >= 500 && is_error_object($w),
           "write/$kind: a 5xx error object ($w->{status})")
            or diag($w->{content});
    }
    clear(2);
}

# ---------------------------------------------------------------- checks
sub node_docs {
    my ($i) = @_;
    my $res = Miroir::Nodes::http_post($i, '/indexes/movies/documents/fetch',
                                       '{"limit":100000}');
    return [] unless $res->{status} == 200;
    return $json->decode($res->{content})->{results};
}

# every document of "movies" exactly on its owners, with their tags
sub check_placement {
    my ($what, @nodes) = @_;
    my %where;
    for my $i (@nodes) {
        $where{$_->{id}}{"n$i"} = join ',', grep { defined }
            @{$_}{qw(_miroir_o0 _miroir_o1)} for @{ node_docs($i) };
    }
    my ($lost, $misplaced, $tags) = (0, 0, 0);
    for my $id (1 .. $NDOCS, $Extra) {
        my $o = miroir('GET', "/_miroir/shards/$id")->{json}{owners} || [];
        my $at = $where{$id} || {};
        $lost++ unless %$at;
        $misplaced++ if join(',', sort keys %$at) ne join(',', sort @$o);
        $tags++ for grep { $_ ne join(',', @$o) } values %$at;
    }
    is($lost, 0, "$what: no document lost");
    is($misplaced, 0, "$what: every document exactly on its owners");
    is($tags, 0, "$what: every copy tagged with its owners");
    my $s = miroir('POST', '/indexes/movies/search', '{"limit":0}');
    is($s->{json}{estimatedTotalHits}, $NDOCS + 1,
       "$what: a search counts every document once");
}

sub wait_idle {
    my ($limit) = @_;
    my $st;
    for (1 .. $limit * 10) {
        $st = miroir('GET', '/_miroir/rebalance');
        return $st if ($st->{json}{state} // '') eq 'idle';
        sleep 0.1;
    }
    return $st;
}

check_placement('before the migrations', 1 .. 3);

# ---------------------------------------------------------------- 3. cap
$r = miroir('POST', '/_miroir/nodes', $json->encode({
    id => 'n4', address => Miroir::Nodes::addr(4), key => $NodeKey }));
is($r->{status}, 202, 'n4 added') or diag($r->{content});
my ($max, $polls, $moving) = (0, 0, 0);
for (1 .. 1200) {
    my $st = miroir('GET', '/_miroir/rebalance')->{json} || {};
    last if ($st->{state} // '') eq 'idle';
    my $n = grep { $_->{state} =~ /^(copying|switched)$/ } @{ $st->{shards} || [] };
    $max = $n if $n > $max;
    $moving++ if $n;
    $polls++;
    sleep 0.05;
}
note("rebalance_concurrency 2: $polls polls, $moving with shards moving, "
     . "at most $max at once");
cmp_ok($moving, '>', 3, 'the migration was observed while shards moved');
cmp_ok($max, '<=', 2, 'never more than rebalance_concurrency (2) shards '
                      . 'copying or switched at once');
is($max, 2, 'and 2 shards did move at once');
my $idle = wait_idle(60);
is($idle->{json}{state}, 'idle', 'the add finished');
is($idle->{json}{progress}{errors}, 0, 'without errors');
check_placement('after adding n4', 1 .. 4);

# ---------------------------------------------------------------- 4. faults
# one migration per faulty node: each fault in turn until the helper has
# reported an error with it (hang and slow: 3 s), then cleared
sub faulty_migration {
    my ($what, $node, $start) = @_;
    my $r = $start->();
    is($r->{status}, 202, "$what: started") or diag($r->{content});
    my %last;
    for my $kind (@kinds) {
        my $before = miroir('GET', '/_miroir/rebalance')->{json}{progress}{errors};
        fault($node, $faults{$kind});
        my $t_end = time + ($kind =~ /^(hang|slow)$/ ? 3 : 20);
        my $st;
        while (time < $t_end) {
            $st = miroir('GET', '/_miroir/rebalance')->{json};
            last if ($st->{state} // '') eq 'idle';
            last if $kind !~ /^(hang|slow)$/
                    && ($st->{progress}{errors} // 0) > ($before // 0);
            sleep 0.2;
        }
        $last{$kind} = $st->{progress}{lastError} // '';
        note("$what/$kind: state $st->{state}, errors "
             . ($st->{progress}{errors} // '?') . ", lastError: $last{$kind}");
        if ($kind !~ /^(hang|slow)$/ && ($st->{state} // '') ne 'idle') {
            cmp_ok($st->{progress}{errors}, '>', $before // 0,
                   "$what/$kind: the failure is counted");
            ok($last{$kind} ne '', "$what/$kind: lastError is set");
        }
        clear($node);
    }
    my $idle = wait_idle(120);
    is($idle->{json}{state}, 'idle',
       "$what: the migration completes once the fault is cleared")
        or diag($idle->{content});
}

faulty_migration('drain n1 (source faulty)', 1, sub {
    miroir('POST', '/_miroir/nodes/n1/drain');
});
check_placement('after draining n1', 1 .. 4);
is(scalar @{ node_docs(1) }, 0, 'the drained node holds nothing');

faulty_migration('add n5 (target faulty)', 5, sub {
    miroir('POST', '/_miroir/nodes', $json->encode({
        id => 'n5', address => Miroir::Nodes::addr(5), key => $NodeKey }));
});
check_placement('after adding n5', 1 .. 5);

# ---------------------------------------------------------------- end
note(sprintf('slowest request: %s, %.2f s', $slowest_what, $slowest));
cmp_ok($slowest, '<', $Bound, 'no request outlived the deadline (bound '
                              . "$Bound s)");
my $log = Miroir::Nginx::error_log();
my @bad = grep { /exited on signal|\[alert\]|\[crit\]|\[emerg\]/ }
          split /\n/, $log;
is(scalar @bad, 0, 'no worker crashed, no alert') or diag(join "\n", @bad);

Miroir::Nginx::stop();
Miroir::Nodes::stop();
done_testing();
