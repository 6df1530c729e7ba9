# Chaos test: continuous writes (adds, updates, deletes by id and by batch)
# and searches through Miroir while, at random moments, nodes are added,
# drained and removed, the helper (nginx's cache manager process) is
# killed with SIGKILL, and nginx is reloaded.  Seeded and bounded in count
# and time (docs/testing.md):
#
#   MIROIR_CHAOS_SECONDS  length of the run (default 20; `make test`)
#   MIROIR_CHAOS_SEED     the seed (default 59); a failure prints it
#   MIROIR_CHAOS_REPORT   a file to append a failure report to
#
# Each write's task is awaited; an acknowledged (succeeded) one is applied
# to a model.  Checked:
#   - every write is acknowledged, and every search during the run returns
#     exactly the model (replication 2 and no node dies: a complete answer
#     is always possible);
#   - at the end, on the nodes themselves (every node in the topology),
#     against the shard table of GET /_miroir/status: every stored copy
#     sits on an owner of its shard, every model document sits exactly once
#     on each owner, with the acknowledged content and the owner tags, and
#     nothing else is stored (no lost, resurrected or duplicated document).

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);

Miroir::Nodes::start(count => 5, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 4m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 32;
        replication 2;
        master_key "s3cret";
        rebalance_concurrency 2;
        rebalance_rate 300;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $SECS = $ENV{MIROIR_CHAOS_SECONDS} || 20;
my $SEED = $ENV{MIROIR_CHAOS_SEED} // 59;
my $MAX_OPS = 200 * $SECS;
my $NDOCS = 300;
my $KEY = 'node-key-0123456789';
my $json = JSON::PP->new->canonical;
my %model;          # id => title (acknowledged state)
my %uncertain;      # ids of writes not acknowledged: either outcome is fine
my @events;         # what happened, for the report
my (@op_fail, @search_fail, @admin_fail);
my ($ops, $next_id, $runtime) = (0, 0, 0);

# emulator i (4, 5) => the id it has in the cluster, '' when out
my %spare = (4 => '', 5 => '');

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    return HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

sub get_json {
    my $c = miroir('GET', $_[0])->{content} // '';
    return eval { $json->decode($c) } || {};
}

sub event {
    my $e = sprintf("%6.2fs op %d: %s", time - $::T0, $ops, $_[0]);
    push @events, $e;
    diag($e) if $ENV{TEST_VERBOSE};
}

# the status of a Miroir task once finished
sub task_status {
    my ($res) = @_;
    return "http $res->{status} " . ($res->{content} // '')
        unless $res->{status} == 202;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 'no task' unless defined $uid;
    for (1 .. 500) {
        my $c = miroir('GET', "/tasks/$uid")->{content} // '';
        return ($1 eq 'succeeded' ? $1 : "$1 $c")
            if $c =~ /"status":"(succeeded|failed|canceled)"/;
        select undef, undef, undef, 0.02;
    }
    return 'task timeout';
}

# a search through Miroir equals the model: complete, no duplicate
sub search_ok {
    my $res = miroir('POST', '/indexes/movies/search',
                     '{"q":"","limit":2000}');
    return "status $res->{status} $res->{content}" unless $res->{status} == 200;
    my $r = $json->decode($res->{content});
    my (%seen, @dup, @wrong, $unsure);
    for my $h (@{ $r->{hits} }) {
        push @dup, $h->{id} if $seen{$h->{id}}++;
        $unsure++ if $uncertain{$h->{id}} && !exists $model{$h->{id}};
        push @wrong, $h->{id} if ($model{$h->{id}} // '') ne $h->{title}
                                 && !$uncertain{$h->{id}};
    }
    my @missing = grep { !$seen{$_} && !$uncertain{$_} }
                  sort { $a <=> $b } keys %model;
    my $n = keys %model;
    return "estimatedTotalHits $r->{estimatedTotalHits} != $n"
           . (@missing ? ", missing @missing" : '')
           . (@dup ? ", duplicated @dup" : '')
        if $r->{estimatedTotalHits} != $n + ($unsure // 0)
           && (@missing || @dup || !%uncertain);
    return "duplicated @dup" if @dup;
    return "missing @missing" if @missing;
    return "not the acknowledged version: @wrong" if @wrong;
    return '';
}

# at the first failed search: where the documents it missed are
sub explain_miss {
    my ($e) = @_;
    my ($ids) = $e =~ /(?:missing|duplicated) ([\d ]+)/;
    return unless $ids;
    my $rb = miroir('GET', '/_miroir/rebalance')->{content} // '';
    $rb =~ s/,"shards":.*//;
    event("rebalance: $rb");
    my %emu = map { Miroir::Nodes::addr($_) => $_ } 1 .. 5;
    my @nodes = nodes_now();
    for my $id ((split ' ', $ids)[0 .. 2]) {
        next unless defined $id;
        my $r = get_json("/_miroir/shards/$id");
        my @on;
        for my $n (@nodes) {
            my $i = $emu{$n->{address}};
            my $d = Miroir::Nodes::http_get($i, "/indexes/movies/documents/$id");
            next unless $d->{status} == 200;
            my $doc = eval { $json->decode($d->{content}) } || {};
            push @on, "$n->{id}($n->{state}) tags "
                      . join(',', map { $doc->{"_miroir_o$_"} // '?' } 0 .. 1);
        }
        event("doc $id: shard $r->{shard} $r->{state}, owners "
              . join(',', @{ $r->{owners} || [] }) . ", target "
              . join(',', @{ $r->{targetOwners} || [] }) . "; stored on "
              . join('; ', @on));
    }
}

sub one_write {
    my $k = rand();
    my @ids = sort { $a <=> $b } keys %model;
    my $pick = $ids[int rand @ids];
    my ($res, $apply, $what);

    if ($k < 0.35 || @ids < 20) {
        my @d = map { { id => $next_id + $_, title => "movie "
                        . ($next_id + $_) . " v0" } } 0 .. int rand 3;
        $next_id += @d;
        $what = "add " . join(',', map { $_->{id} } @d);
        $res = miroir('POST', '/indexes/movies/documents', $json->encode(\@d));
        $apply = sub { $model{$_->{id}} = $_->{title} for @d };

    } elsif ($k < 0.65) {
        my $t = "movie $pick v$ops";
        $what = "update $pick";
        $res = miroir('PUT', '/indexes/movies/documents',
                      $json->encode([{ id => $pick, title => $t }]));
        $apply = sub { $model{$pick} = $t };

    } elsif ($k < 0.85) {
        $what = "delete $pick";
        $res = miroir('DELETE', "/indexes/movies/documents/$pick");
        $apply = sub { delete $model{$pick} };

    } else {
        my $other = $ids[int rand @ids];
        $what = "delete-batch $pick,$other";
        $res = miroir('POST', '/indexes/movies/documents/delete-batch',
                      $json->encode([$pick, "$other"]));
        $apply = sub { delete @model{$pick, $other} };
    }

    my $st = task_status($res);
    if ($st eq 'succeeded') {
        $apply->();
    } else {
        push @op_fail, "op $ops ($what): $st";
        event("write not acknowledged: $what: $st");
        # its outcome is unknown: the ids it touched are not checked
        $uncertain{$_} = 1 for $what =~ /(\d+)/g;
    }
}

sub nginx_pid {
    open my $f, '<', server_root() . '/logs/nginx.pid' or return 0;
    my $p = <$f>;
    return $p =~ /(\d+)/ ? $1 : 0;
}

sub nodes_now {
    return @{ get_json('/_miroir/topology')->{nodes} || [] };
}

sub admin {
    my ($method, $path, $body, $label) = @_;
    my $res = miroir($method, $path, $body);
    event("$label: $res->{status}");
    push @admin_fail, "op $ops: $label: $res->{status} $res->{content}"
        if $res->{status} >= 500;
    return $res->{status};
}

# one random chaos event
sub chaos {
    my $k = rand();
    my @nodes = nodes_now();
    my @active = grep { $_->{state} eq 'active' || $_->{state} eq 'joining' }
                 @nodes;

    if ($k < 0.15) {
        my $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
        my $pid = $c =~ /"helper":\{"pid":(\d+)/ ? $1 : 0;
        event("kill -9 helper $pid");
        kill 'KILL', $pid if $pid;

    } elsif ($k < 0.3) {
        my $pid = nginx_pid();
        event("reload (HUP $pid)");
        kill 'HUP', $pid if $pid;

    } elsif ($k < 0.6) {
        my ($i) = grep { $spare{$_} eq '' } sort keys %spare;
        return chaos_drain(\@nodes, \@active) unless $i;
        # a fresh node: nothing left from an earlier life
        Miroir::Nodes::http_delete($i, '/indexes/movies');
        for (1 .. 50) {
            last if Miroir::Nodes::http_get($i, '/indexes/movies')->{status}
                    == 404;
            select undef, undef, undef, 0.05;
        }
        my $id = 'r' . ++$runtime;
        my $st = admin('POST', '/_miroir/nodes', $json->encode({
                           id => $id, address => Miroir::Nodes::addr($i),
                           key => $KEY }), "add $id (emulator $i)");
        $spare{$i} = $id if $st == 202;

    } else {
        chaos_drain(\@nodes, \@active);
    }
}

# drain an active node (keeping 3), or remove a drained one
sub chaos_drain {
    my ($nodes, $active) = @_;
    my @drained = grep { $_->{state} eq 'draining' } @$nodes;

    if (@drained && rand() < 0.6) {
        my $d = $drained[int rand @drained];
        my $st = admin('DELETE', "/_miroir/nodes/$d->{id}", undef,
                       "remove $d->{id}");
        if ($st == 202) {
            for my $i (keys %spare) {
                $spare{$i} = '' if $spare{$i} eq $d->{id};
            }
        }
        return;
    }

    return if @$active <= 3;
    my $d = $active->[int rand @$active];
    admin('POST', "/_miroir/nodes/$d->{id}/drain", undef, "drain $d->{id}");
}

sub wait_idle {
    for (1 .. 400) {
        my $rb = get_json('/_miroir/rebalance');
        return $rb if ($rb->{state} // '') eq 'idle'
                      && !$rb->{shardsRetagging};
        select undef, undef, undef, 0.1;
    }
    return get_json('/_miroir/rebalance');
}

# every node of the topology, read directly, against the shard table
sub check_nodes {
    my $st = get_json('/_miroir/status');
    my @ids = map { $_->{id} } @{ $st->{nodes} || [] };
    my %emu = map { Miroir::Nodes::addr($_) => $_ } 1 .. 5;
    my (%where, @bad);
    my ($misplaced, $content, $tags, $lost, $resurrected, $dup)
        = (0, 0, 0, 0, 0, 0);

    for my $n (@{ $st->{nodes} || [] }) {
        next if $n->{state} eq 'removed';
        my $i = $emu{$n->{address}};
        my $res = Miroir::Nodes::http_post($i,
                      '/indexes/movies/documents/fetch', '{"limit":1000000}');
        next unless $res->{status} == 200;
        for my $d (@{ $json->decode($res->{content})->{results} }) {
            my @own = map { $ids[$_] } @{ $st->{owners}[$d->{_miroir_shard}] };
            $where{$d->{id}}{$n->{id}}++;
            if (!grep { $_ eq $n->{id} } @own) {
                $misplaced++;
                push @bad, "doc $d->{id} (shard $d->{_miroir_shard}) on "
                           . "$n->{id}, owners @own";
            }
            if (exists $model{$d->{id}} && !$uncertain{$d->{id}}
                && $model{$d->{id}} ne ($d->{title} // ''))
            {
                $content++;
                push @bad, "doc $d->{id} on $n->{id}: '$d->{title}', "
                           . "acknowledged '$model{$d->{id}}'";
            }
            my $t = join ' ', map { $d->{"_miroir_o$_"} // '?' } 0 .. 1;
            if ($t ne "@own") {
                $tags++;
                push @bad, "doc $d->{id} on $n->{id}: tags $t, owners @own";
            }
        }
    }

    for my $id (keys %where) {
        next if exists $model{$id} || $uncertain{$id};
        $resurrected++;
        push @bad, "doc $id (deleted) stored on "
                   . join(',', sort keys %{ $where{$id} });
    }

    for my $id (sort { $a <=> $b } keys %model) {
        next if $uncertain{$id};
        my $r = get_json("/_miroir/shards/$id");
        my @own = @{ $r->{owners} || [] };
        my $at = $where{$id} || {};
        if (!%$at) {
            $lost++;
            push @bad, "doc $id lost (owners @own)";
            next;
        }
        my @on = sort keys %$at;
        if ("@on" ne join(' ', sort @own) || grep { $_ != 1 } values %$at) {
            $dup++;
            push @bad, "doc $id on " . join(',', map { "$_ x$at->{$_}" } @on)
                       . ", owners @own";
        }
    }

    is($lost, 0, 'no acknowledged document lost');
    is($resurrected, 0, 'no deleted document resurrected');
    is($dup, 0, 'each document sits exactly once on each of its owners');
    is($misplaced, 0, 'each stored copy sits on an owner of its shard');
    is($content, 0, 'every stored copy holds the acknowledged version');
    is($tags, 0, 'every stored copy carries its owner tags');
    return @bad;
}

sub report {
    my (@bad) = @_;
    my $text = "## t/059-chaos.t seed $SEED, $SECS s (" . gmtime() . " UTC)\n\n"
        . "Reproduce: MIROIR_CHAOS_SEED=$SEED MIROIR_CHAOS_SECONDS=$SECS "
        . "prove -I t/lib t/059-chaos.t\n\n"
        . join('', map { "- $_\n" } @bad)
        . "\nEvents:\n\n" . join('', map { "    $_\n" } @events) . "\n";
    diag($text);
    if (my $f = $ENV{MIROIR_CHAOS_REPORT}) {
        open my $o, '>>', $f or return;
        print $o $text;
    }
}

sub run_chaos {
    my @docs = map { { id => $_, title => "movie $_ v0" } } 1 .. $NDOCS;
    is(task_status(miroir('POST', '/indexes/movies/documents?primaryKey=id',
                          $json->encode(\@docs))),
       'succeeded', "$NDOCS documents loaded through Miroir");
    $model{$_} = "movie $_ v0" for 1 .. $NDOCS;
    $next_id = $NDOCS + 1;

    srand($SEED);
    $::T0 = time;
    my ($searches, $events, $last_e, $explained) = (0, 0, '', 0);
    my $next_chaos = 0.5 + rand 2;

    while ($ops < $MAX_OPS && time - $::T0 < $SECS) {
        if (time - $::T0 >= $next_chaos) {
            chaos();
            $events++;
            $next_chaos = time - $::T0 + 0.5 + rand 2.5;
        }
        one_write();
        $ops++;
        my $e = search_ok();
        $searches++;
        # the timeline shows each episode (which documents) once
        (my $what = $e) =~ s/^estimatedTotalHits \d+ != \d+,? ?//;
        if ($e) {
            explain_miss($e) if $last_e eq '' && $explained++ < 4;
            push @search_fail, "after op $ops: $e";
            event("search: $e") unless $last_e eq $what;
        }
        $last_e = $what;
    }

    event("end of the run: $ops writes, $searches searches, $events events");
    diag("seed $SEED: $ops writes, $searches searches, $events chaos "
         . "events in $SECS s") if $ENV{TEST_VERBOSE};

    ok($events >= 3, "chaos events happened ($events)");
    is(scalar @op_fail, 0, 'every write was acknowledged');
    is(scalar @search_fail, 0, 'every search returned exactly the model');
    is(scalar @admin_fail, 0, 'no admin change failed with 5xx');

    my $rb = wait_idle();
    is(($rb->{state} // '?') . ', ' . ($rb->{shardsRetagging} // '?')
       . ' shards retagging', 'idle, 0 shards retagging',
       'the rebalance finished, every abandoned move retagged');
    is(search_ok(), '', 'a search after the run equals the model');
    my @bad = check_nodes();

    # the first and the last few failed searches
    splice @search_fail, 5, @search_fail - 10,
           '... ' . (@search_fail - 10) . ' more' if @search_fail > 12;
    report(@op_fail, @search_fail, @admin_fail, @bad)
        if @op_fail || @search_fail || @admin_fail || @bad
           || ($rb->{state} // '') ne 'idle' || $rb->{shardsRetagging};
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");
    run_chaos() if $block->name =~ /TEST 2:/;
    return $block;
});

use_hup();
log_level('info');
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 2 + 7 + 6;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: after the chaos run (preprocessor): nothing moves
--- request
GET /_miroir/health
--- response_body_like: "shardsMoving":0,
