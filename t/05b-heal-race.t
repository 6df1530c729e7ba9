# Healing race, made deterministic with the emulator's `hang` fault: node
# 3 misses writes while it is down (write_quorum one: its copies are
# marked stale), then comes back holding the helper's document writes
# (PUT .../documents; clients use POST and DELETE) until the test clears
# the fault.  So the helper has emptied node 3's stale copy and fetched
# the fresh one, the test then updates every document through Miroir
# (acknowledged, node 3 included), and only then does the helper's older
# copy reach node 3.  Only updates: the document counts stay equal, so
# the count check cannot see the race.  The write counters make the
# helper copy the shard again (event=migration_copied ... redo=1 or more
# heal=1).  Checked on node 3 itself: every document it owns with the
# acknowledged version, the document deleted while it was down not back,
# nothing it does not own; health green.  (Deletes racing a copy: t/05a.)

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 4;
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
my %model;

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    return HTTP::Tiny->new(timeout => 20)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

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

sub health {
    return miroir('GET', '/_miroir/health')->{content} // '';
}

sub on_n3 {
    my $res = Miroir::Nodes::http_post(3, '/indexes/q/documents/fetch',
                                       '{"limit":10000}');
    return {} unless $res->{status} == 200;
    return { map { $_->{id} => $_ }
             @{ $json->decode($res->{content})->{results} } };
}

sub n3_ids {
    my @ids;
    for my $id (@_) {
        my $r = $json->decode(miroir('GET', "/_miroir/shards/$id")->{content});
        push @ids, $id if grep { $_ eq 'n3' } @{ $r->{owners} };
    }
    return @ids;
}

sub log_text {
    open my $fh, '<', $Test::Nginx::Util::ErrLogFile or return '';
    local $/;
    return <$fh>;
}

sub run_heal_race {
    is(task_status(miroir('POST', '/indexes', '{"uid":"q","primaryKey":"id"}')),
       'succeeded', 'index created');
    is(task_status(miroir('POST', '/indexes/q/documents', $json->encode(
           [ map { { id => $_, v => "v0 $_" } } 1 .. 40 ]))),
       'succeeded', '40 documents written on every owner');
    $model{$_} = "v0 $_" for 1 .. 40;

    Miroir::Nodes::kill_node(3);
    is(task_status(miroir('POST', '/indexes/q/documents', $json->encode(
           [ map { { id => $_, v => "v1 $_" } } 21 .. 50 ]))),
       'succeeded', 'node 3 down: 30 documents written (10 new)');
    $model{$_} = "v1 $_" for 21 .. 50;
    my ($gone) = n3_ids(1 .. 20);
    is(task_status(miroir('DELETE', "/indexes/q/documents/$gone")),
       'succeeded', "node 3 down: document $gone (one of n3's) deleted");
    delete $model{$gone};
    like(health(), qr/"shardsStale":[1-9]/, 'copies on node 3 are stale');

    # back, holding the helper's document writes
    Miroir::Nodes::restart_node(3, args => [
        '--hang', '--fail-routes', '^PUT /indexes/q/documents']);
    my $log = '';
    for (1 .. 400) {
        $log = log_text();
        last if $log =~ /event=migration_step .*step=fetched .*heal=1/;
        select undef, undef, undef, 0.05;
    }
    like($log, qr/event=migration_step .*step=fetched .*heal=1/,
         'the helper emptied node 3\'s copy and fetched the fresh one');

    my @all = sort { $a <=> $b } keys %model;
    my $w = task_status(miroir('POST', '/indexes/q/documents', $json->encode(
                [ map { { id => $_, v => "v2 $_" } } @all ])));
    if ($w eq 'succeeded') {
        $model{$_} = "v2 $_" for @all;
    }
    is($w, 'succeeded',
       'updates acknowledged while the helper\'s writes wait');

    my $res = Miroir::Nodes::http_post(3, '/_meilisim/faults', '{}');
    is($res->{status}, 200, 'the helper\'s writes go on');

    my $h = '';
    for (1 .. 400) {
        $h = health();
        last if $h =~ /"status":"green".*"shardsStale":0\}/;
        select undef, undef, undef, 0.1;
    }
    like($h, qr/^\{"status":"green",.*"shardsStale":0\}$/,
         'the stale copies were re-synced: health green');

    my $docs = on_n3();
    my @want = n3_ids(keys %model);
    my @wrong = grep { !$docs->{$_} || $docs->{$_}{v} ne $model{$_} } @want;
    is("@wrong", '', 'node 3 holds the acknowledged version of its documents');
    my %want = map { $_ => 1 } @want;
    my @extra = sort grep { !$want{$_} } keys %$docs;
    is("@extra", '', 'no deleted document, nothing it does not own');
    like(log_text(), qr/event=migration_copied .*redo=[1-9] heal=1/,
         'the helper copied the raced shard again');
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");
    run_heal_race() if $block->name =~ /TEST 2:/;
    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 2 + 2 + 12;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",



=== TEST 2: after the heal race (preprocessor)
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",.*"shardsStale":0\}$
