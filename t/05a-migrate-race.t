# Migration races, made deterministic with the emulator's `hang` fault:
# the helper's document writes (PUT .../documents: only the helper uses
# PUT here, clients use POST and DELETE) are held by every node until the
# test clears the fault.  So the helper has fetched a batch of the first
# moving shard, the test then updates every document and deletes some
# through Miroir (their tasks succeed: acknowledged), and only then do the
# helper's older copies reach the nodes:
#   - the new owner gets the older versions after the client's updates and
#     the deleted documents after the client's deletes;
#   - the owner that keeps the shard gets owner-field updates (PUT {id,
#     _miroir_o*}) of deleted documents, which would create stubs.
# The write counters make the helper see the writes during its pass: it
# copies the shard again and deletes on the new copy what the source no
# longer has (event=migration_copied ... redo=1 or more), and removes the
# stubs.  Checked at the end on the nodes themselves: every acknowledged
# document sits exactly once on each of its owners with its acknowledged
# version and tags, no deleted document and no stub is stored anywhere,
# and a search through Miroir equals the model.
#
# TEST 3: a delete by filter while a shard moves onto a node that has no
# index yet (its migration held before its first step by the same fault
# on POST /indexes) is acknowledged, and the documents it matches are gone
# everywhere once the migration is done.
#
# TEST 4: a copy that an admin change makes useless (n6 added, its first
# copy held, then n6 drained) is an orphan: the helper deletes it from n6
# (event=migration_done ... orphan=1).

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 6, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 4;
        replication 2;
        master_key "s3cret";
        deadline 3s;
        rebalance_concurrency 1;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $NDOCS = 60;
my $json = JSON::PP->new->canonical;
my %model;          # id => title (acknowledged state)

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    return HTTP::Tiny->new(timeout => 20)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

# the status of a Miroir task once finished ('' on timeout)
sub task_status {
    my ($res) = @_;
    return "http $res->{status} $res->{content}" unless $res->{status} == 202;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 'no task' unless defined $uid;
    for (1 .. 500) {
        my $c = miroir('GET', "/tasks/$uid")->{content} // '';
        return ($1 eq 'succeeded' ? $1 : "$1 $c")
            if $c =~ /"status":"(succeeded|failed|canceled)"/;
        select undef, undef, undef, 0.03;
    }
    return '';
}

sub faults {
    my ($body, @on) = @_;
    @on = (1 .. 6) unless @on;
    for my $i (@on) {
        my $res = Miroir::Nodes::http_post($i, '/_meilisim/faults', $body);
        return "node $i: $res->{status}" unless $res->{status} == 200;
    }
    return '';
}

sub status {
    return $json->decode(miroir('GET', '/_miroir/rebalance')->{content}
                         || '{}');
}

sub wait_idle {
    my $c = '';
    for (1 .. 600) {
        $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
        return $c if $c =~ /^\{"state":"idle"/;
        select undef, undef, undef, 0.1;
    }
    return "not idle: $c";
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
        $wrong++ if ($model{$h->{id}} // '') ne ($h->{title} // '');
    }
    my $missing = grep { !$seen{$_} } keys %model;
    my $n = keys %model;
    return "total $r->{estimatedTotalHits} != $n"
        if $r->{estimatedTotalHits} != $n;
    return "dup $dup" if $dup;
    return "missing $missing" if $missing;
    return "wrong $wrong" if $wrong;
    return '';
}

# the nodes hold exactly the model, each document on its owners
sub nodes_ok {
    my ($n) = @_;
    my (%where, @bad);
    for my $i (1 .. $n) {
        for my $d (@{ node_docs($i) }) {
            $where{$d->{id}}{$i}++;
            push @bad, "n$i: $d->{id} holds '" . ($d->{title} // 'a stub')
                       . "'"
                if ($model{$d->{id}} // '') ne ($d->{title} // '');
            $where{$d->{id}}{tags}{$i} =
                join ',', grep { defined } @$d{qw(_miroir_o0 _miroir_o1)};
        }
    }
    for my $id (keys %where) {
        push @bad, "$id resurrected" unless exists $model{$id};
    }
    for my $id (keys %model) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        my @o = @{ $r->{owners} };
        my $at = $where{$id};
        if (!$at) { push @bad, "$id lost"; next; }
        my @held = sort grep { /^\d$/ } keys %$at;
        my $own = join ',', sort map { (/^n(\d)$/)[0] } @o;
        push @bad, "$id on " . join(',', @held) . ", owners $own"
            if join(',', @held) ne $own || grep { $at->{$_} != 1 } @held;
        push @bad, "$id tags"
            if grep { $at->{tags}{$_} ne join(',', @o) } @held;
    }
    return join '; ', @bad[0 .. ($#bad < 5 ? $#bad : 5)];
}

my ($race_copied, $race_held, $race_writes);

sub run_race {
    my @docs = map { { id => $_, title => "movie $_ v0" } } 1 .. $NDOCS;
    is(task_status(miroir('POST', '/indexes/movies/documents?primaryKey=id',
                          $json->encode(\@docs))),
       'succeeded', "$NDOCS documents loaded through Miroir");
    $model{$_} = "movie $_ v0" for 1 .. $NDOCS;
    is(task_status(miroir('PATCH', '/indexes/movies/settings',
                          '{"filterableAttributes":["id"]}')),
       'succeeded', 'id is filterable (TEST 3)');

    # every node holds the helper's document writes
    is(faults('{"hang":true,"failRoutes":"^PUT /indexes/movies/documents"}'),
       '', 'the helper\'s writes are held');

    my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                         id => 'n4', address => Miroir::Nodes::addr(4),
                         key => 'node-key-0123456789' }));
    is($res->{status}, 202, 'n4 added') or diag($res->{content});

    # the helper fetched a batch: its writes are on their way, held
    my $st;
    for (1 .. 300) {
        $st = status();
        last if ($st->{progress}{documentsCopied} // 0) > 0;
        select undef, undef, undef, 0.05;
    }
    $race_held = $st->{progress}{documentsCopied} // 0;
    ok($race_held > 0, "the helper fetched documents ($race_held)");

    # acknowledged updates of every document, deletes of every fifth
    my @all = sort { $a <=> $b } keys %model;
    my @upd = map { { id => $_, title => "movie $_ v1" } } @all;
    my $w = task_status(miroir('POST', '/indexes/movies/documents',
                               $json->encode(\@upd)));
    if ($w eq 'succeeded') {
        $model{$_} = "movie $_ v1" for @all;
    }
    my @gone = grep { $_ % 5 == 0 } @all;
    my $d = task_status(miroir('POST', '/indexes/movies/documents/delete-batch',
                               $json->encode(\@gone)));
    delete @model{@gone} if $d eq 'succeeded';
    my $one = task_status(miroir('DELETE', '/indexes/movies/documents/1'));
    delete $model{1} if $one eq 'succeeded';
    $race_writes = "$w $d $one";
    is($race_writes, 'succeeded succeeded succeeded',
       'updates and deletes acknowledged while the helper\'s writes wait');

    is(faults('{}'), '', 'the helper\'s writes go on');
    like(wait_idle(), qr/^\{"state":"idle".*"errors":0,/,
         'the rebalance finished without errors');
    is(search_ok(), '', 'a search after the migration equals the model');
    is(nodes_ok(4), '', 'the nodes hold exactly the acknowledged documents');
    like(log_text(), qr/event=migration_copied .*pruned=[1-9].*redo=[1-9]/,
         'the helper copied the raced shard again and pruned it');

    # the old copies go a deadline (3s) after the switch: a search planned
    # before the switch may still read them
    my (%switch, @early);
    for (split /\n/, log_text()) {
        next unless m{ (\d\d):(\d\d):(\d\d) .*
                       event=migration_(switch|done) .*shard=(\d+) }x;
        my $t = $1 * 3600 + $2 * 60 + $3;
        if ($4 eq 'switch') { $switch{$5} = $t; next; }
        push @early, "shard $5: " . ($t - $switch{$5}) . 's'
            if defined $switch{$5} && $t - $switch{$5} < 3;
    }
    ok(keys %switch && !@early, 'old copies deleted a deadline after the '
                                . 'switch (' . join(', ', @early) . ')');
}

sub log_text {
    open my $fh, '<', $Test::Nginx::Util::ErrLogFile or return '';
    local $/;
    return <$fh>;
}

sub run_filter {
    # n5 is added while every node holds index creations: the first
    # moving shard is marked (writes reach n5) before n5 has the index
    is(faults('{"hang":true,"failRoutes":"^POST /indexes$"}'), '',
       'index creations are held');
    my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                         id => 'n5', address => Miroir::Nodes::addr(5),
                         key => 'node-key-0123456789' }));
    is($res->{status}, 202, 'n5 added') or diag($res->{content});
    my $st;
    for (1 .. 300) {
        $st = status();
        last if ($st->{progress}{shardsTotal} // 0) > 0;
        select undef, undef, undef, 0.05;
    }
    # the first shard is copying: its creation on n5 is held
    select undef, undef, undef, 1.5;
    my $r = Miroir::Nodes::http_get(5, '/indexes/movies');
    is($r->{status}, 404, 'n5 has no index yet');

    my @ids = sort { $a <=> $b } grep { $_ % 3 == 0 } keys %model;
    my $f = task_status(miroir('POST', '/indexes/movies/documents/delete',
                               $json->encode({ filter => 'id IN ['
                                               . join(',', @ids) . ']' })));
    is($f, 'succeeded', 'a delete by filter is acknowledged');
    delete @model{@ids} if $f eq 'succeeded';

    is(faults('{}'), '', 'index creations go on');
    like(wait_idle(), qr/^\{"state":"idle".*"errors":0,/,
         'the rebalance finished without errors');
    is(search_ok(), '', 'a search after the migration equals the model');
    is(nodes_ok(5), '', 'the nodes hold exactly the acknowledged documents');
    like(log_text(), qr/event=migration_done .*to=n5/,
         'the old copies of the moved shards were deleted');
}

sub run_orphan {
    # n6's copy of its first shard is held, then n6 is drained: the copy
    # lands on n6 although no plan wants it any more
    is(faults('{"hang":true,"failRoutes":"^PUT /indexes/movies/documents"}',
              6), '', 'the helper\'s writes to n6 are held');
    my $res = miroir('POST', '/_miroir/nodes', $json->encode({
                         id => 'n6', address => Miroir::Nodes::addr(6),
                         key => 'node-key-0123456789' }));
    is($res->{status}, 202, 'n6 added') or diag($res->{content});
    my $st;
    for (1 .. 300) {
        $st = status();
        last if ($st->{progress}{documentsCopied} // 0) > 0;
        select undef, undef, undef, 0.05;
    }
    ok(($st->{progress}{documentsCopied} // 0) > 0,
       'the helper fetched documents for n6');
    $res = miroir('POST', '/_miroir/nodes/n6/drain');
    is($res->{status}, 202, 'n6 drained during the copy')
        or diag($res->{content});
    is(faults('{}', 6), '', 'the helper\'s writes to n6 go on');

    my ($n6, $log) = (-1, '');
    for (1 .. 300) {
        $log = log_text();
        $n6 = scalar @{ node_docs(6) };
        last if $n6 == 0 && $log =~ /event=migration_done .*from=n6 orphan=1/;
        select undef, undef, undef, 0.1;
    }
    like($log, qr/event=migration_done .*from=n6 orphan=1/,
         'the orphan copy on n6 was deleted');
    is($n6, 0, 'n6 holds no document');
    like(wait_idle(), qr/^\{"state":"idle".*"errors":0,/,
         'no rebalance pending, no error');
    is(search_ok(), '', 'a search equals the model');
    is(nodes_ok(6), '', 'the nodes hold exactly the acknowledged documents');
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");
    run_race() if $block->name =~ /TEST 2:/;
    run_filter() if $block->name =~ /TEST 3:/;
    run_orphan() if $block->name =~ /TEST 4:/;
    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 4 * 3 + 12 + 9 + 10;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: after the race (preprocessor): copied again, n4 active
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",.*"shardsMoving":0,
--- no_error_log
[error]



=== TEST 3: after a delete by filter during a move onto a new node
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",.*"shardsMoving":0,
--- no_error_log
[error]



=== TEST 4: after a copy made useless by a drain (orphan deleted)
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",.*"shardsMoving":0,
--- no_error_log
[error]
