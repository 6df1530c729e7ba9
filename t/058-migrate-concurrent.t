# Model test: writes and searches while shards migrate.  A 3-node RF 2
# cluster is loaded through Miroir, a fourth node is added (the helper
# starts moving shards onto it, slowed down by rebalance_rate), and while
# the migration runs the test keeps writing through Miroir (adds, updates,
# deletes by id and by batch; a bounded count and time) and searching.
# Each write's task is awaited and, once succeeded (acknowledged), applied
# to a model.  Checked:
#   - every search during the run answers exactly the model: complete,
#     no duplicate, the acknowledged versions;
#   - at the end, read on the nodes themselves: every model document is
#     stored exactly on its owners with the model's content and the owner
#     tags, and nothing else is stored (no lost, no resurrected, no
#     duplicated document).
# Writes and reads go through the rebalance hooks (docs/rebalancing.md):
# a migrating shard's writes reach old and new owners, its reads name it
# on one current copy.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Client qw(miroir);
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);

Miroir::Nodes::start(count => 4, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 32;
        replication 2;
        master_key "s3cret";
        rebalance_concurrency 2;
        rebalance_rate 40;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $NDOCS = 200;
my $MAX_OPS = 400;
my $MAX_SECS = 35;
my $json = JSON::PP->new->canonical;
my %model;          # id => title (acknowledged state)

# the status of a Miroir task once finished ('' on timeout)
sub task_status {
    my ($res) = @_;
    return "http $res->{status}" unless $res->{status} == 202;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 'no task' unless defined $uid;
    for (1 .. 300) {
        my $c = miroir('GET', "/tasks/$uid")->{content} // '';
        return ($1 eq 'succeeded' ? $1 : "$1 $c")
            if $c =~ /"status":"(succeeded|failed|canceled)"/;
        select undef, undef, undef, 0.03;
    }
    return '';
}

sub rebalance_idle {
    my $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
    return $c =~ /^\{"state":"idle"/ ? $c : undef;
}

sub node_docs {
    my ($i) = @_;
    my $res = Miroir::Nodes::http_post($i, '/indexes/movies/documents/fetch',
                                       '{"limit":1000000}');
    return [] unless $res->{status} == 200;
    return $json->decode($res->{content})->{results};
}

# a search through Miroir equals the model: complete, no duplicate
sub search_ok {
    my $res = miroir('POST', '/indexes/movies/search',
                     '{"q":"","limit":1000}');
    return "status $res->{status} $res->{content}" unless $res->{status} == 200;
    my $r = $json->decode($res->{content});
    my (%seen, $dup, $wrong);
    for my $h (@{ $r->{hits} }) {
        $dup++ if $seen{$h->{id}}++;
        $wrong++ if ($model{$h->{id}} // '') ne $h->{title};
    }
    my $missing = grep { !$seen{$_} } keys %model;
    my $n = keys %model;
    return "total $r->{estimatedTotalHits} != $n, missing "
           . join(',', grep { !$seen{$_} } sort keys %model)
        if $r->{estimatedTotalHits} != $n;
    return "dup $dup" if $dup;
    return "missing $missing" if $missing;
    return "wrong $wrong" if $wrong;
    return '';
}

my (@op_fail, @search_fail, $ops, $ops_moving, $next_id);

sub one_op {
    my $k = rand();
    my @ids = sort { $a <=> $b } keys %model;
    my $pick = $ids[int rand @ids];
    my ($res, $apply);

    if ($k < 0.35 || @ids < 10) {
        my $id = $next_id++;
        my @d = ({ id => $id, title => "movie $id v0" });
        $res = miroir('POST', '/indexes/movies/documents', $json->encode(\@d));
        $apply = sub { $model{$id} = "movie $id v0" };

    } elsif ($k < 0.65) {
        my $t = "movie $pick v" . ($ops + 1);
        $res = miroir('PUT', '/indexes/movies/documents',
                      $json->encode([{ id => $pick, title => $t }]));
        $apply = sub { $model{$pick} = $t };

    } elsif ($k < 0.85) {
        $res = miroir('DELETE', "/indexes/movies/documents/$pick");
        $apply = sub { delete $model{$pick} };

    } else {
        my $other = $ids[int rand @ids];
        $res = miroir('POST', '/indexes/movies/documents/delete-batch',
                      $json->encode([$pick, "$other"]));
        $apply = sub { delete @model{$pick, $other} };
    }

    my $st = task_status($res);
    if ($st eq 'succeeded') {
        $apply->();
    } else {
        push @op_fail, "op $ops: $st";
    }
}

sub run_model {
    my @docs = map { { id => $_, title => "movie $_ v0" } } 1 .. $NDOCS;
    is(task_status(miroir('POST', '/indexes/movies/documents?primaryKey=id',
                          $json->encode(\@docs))),
       'succeeded', "$NDOCS documents loaded through Miroir");
    $model{$_} = "movie $_ v0" for 1 .. $NDOCS;
    $next_id = $NDOCS + 1;
    is(search_ok(), '', 'a search before the add equals the model');

    my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                         id => 'n4', address => Miroir::Nodes::addr(4),
                         key => 'node-key-0123456789' }));
    is($res->{status}, 202, 'n4 added') or diag($res->{content});

    srand(58);
    my $t0 = time;
    ($ops, $ops_moving) = (0, 0);

    while ($ops < $MAX_OPS && time - $t0 < $MAX_SECS) {
        my $moving = !rebalance_idle();
        last if !$moving && $ops >= 20;
        one_op();
        $ops++;
        $ops_moving++ if $moving;
        my $e = search_ok();
        push @search_fail, "after op $ops: $e" if $e;
        select undef, undef, undef, 0.02;
    }

    diag(sprintf("%d operations (%d during the migration) in %.1f s",
                 $ops, $ops_moving, time - $t0)) if $ENV{TEST_VERBOSE};
    ok($ops_moving >= 10, "writes ran during the migration ($ops_moving)");
    is(scalar @op_fail, 0, 'every write was acknowledged')
        or diag(join "\n", @op_fail[0 .. ($#op_fail < 5 ? $#op_fail : 5)]);
    is(scalar @search_fail, 0, 'every search equals the model')
        or diag(join "\n",
                @search_fail[0 .. ($#search_fail < 5 ? $#search_fail : 5)]);

    my $idle;
    for (1 .. 300) {
        last if $idle = rebalance_idle();
        select undef, undef, undef, 0.1;
    }
    like($idle // '', qr/"errors":0,/, 'the rebalance finished without errors');
    is(search_ok(), '', 'a search after the migration equals the model');

    # the nodes themselves
    my (%where, $content, $tags);
    ($content, $tags) = (0, 0);
    for my $i (1 .. 4) {
        for my $d (@{ node_docs($i) }) {
            $where{$d->{id}}{$i}++;
            $content++ if ($model{$d->{id}} // '') ne ($d->{title} // '');
            $d->{tags} = "$d->{_miroir_o0},$d->{_miroir_o1}";
            $where{$d->{id}}{tags}{$i} = $d->{tags};
        }
    }
    my ($lost, $resurrected, $misplaced) = (0, 0, 0);
    for my $id (keys %where) {
        $resurrected++ unless exists $model{$id};
    }
    for my $id (keys %model) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        my @o = @{ $r->{owners} };
        my $at = $where{$id};
        if (!$at) { $lost++; next; }
        my @held = sort grep { /^\d$/ } keys %$at;
        my $own = join ',', sort map { (/^n(\d)$/)[0] } @o;
        $misplaced++ if join(',', @held) ne $own
                        || grep { $at->{$_} != 1 } @held;
        $tags++ if grep { $at->{tags}{$_} ne join(',', @o) } @held;
    }
    is($lost, 0, 'no acknowledged document lost');
    is($resurrected, 0, 'no deleted document resurrected');
    is($misplaced, 0, 'each document sits exactly once on each owner');
    is($content, 0, 'every stored copy holds the acknowledged version');
    is($tags, 0, 'every stored copy carries its owner tags');
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");
    run_model() if $block->name =~ /TEST 2:/;
    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 3 + 13;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: after the model run (preprocessor): n4 active, health green
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",.*"shardsMoving":0,
--- no_error_log
[error]
