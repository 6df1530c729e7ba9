# The helper process (src/ngx_miroir_helper.c): with a miroir_state
# directory the master starts nginx's cache manager process, which runs
# Miroir's step every 500 ms (it logs "miroir helper: started" and counts
# its ticks in the zone, shown by GET /_miroir/rebalance).  After
# "nginx -s reload" (HUP) a new helper replaces the old one.  The process
# checks run between blocks, while nginx is up (use_hup keeps it running).

use Test::Nginx::Socket;

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 1m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1972;
        node n3 127.0.0.1:1973;
    }
_EOC_

my $servroot = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';

# The cache manager processes whose parent is this test's master.
sub helpers {
    open my $fh, '<', "$servroot/logs/nginx.pid" or return ();
    my $master = <$fh>;
    close $fh;
    chomp $master;
    my @pids;
    for my $line (`ps -eo pid=,ppid=,args=`) {
        my ($pid, $ppid, $args) = $line =~ /^\s*(\d+)\s+(\d+)\s+(.*)$/
            or next;
        push @pids, $pid
            if $ppid == $master && $args =~ /^nginx: cache manager process/;
    }
    return @pids;
}

my $old;

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n");
    $block->set_value('more_headers', "Authorization: Bearer s3cret");

    if ($block->name =~ /TEST 2:/) {
        my @h = helpers();
        is(scalar @h, 1, 'one helper process (nginx: cache manager process)');
        $old = $h[0];
    }

    if ($block->name =~ /TEST 3:/) {
        my @h = helpers();
        is(scalar @h, 1, 'one helper process after the reload');
        ok(@h && $h[0] != $old && !kill(0, $old),
           'the helper was replaced by a new process');
        # this block reloads again: its helper is the new one or a newer one
        $block->set_value('response_body_like',
                          qr/"helper":\{"pid":(?!$old,)\d+,"ticks":[1-9]\d*\}/);
    }

    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 4 + 1 + 3 + 2 + 3;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the helper starts and runs its step
--- request
GET /_miroir/rebalance
--- wait: 1
--- response_body_like: "helper":\{"pid":\d+,"ticks":\d+\}
--- error_log
miroir helper: started, pid
miroir helper: cluster "main": no rebalance pending



=== TEST 2: after a reload a new helper starts
--- request
GET /_miroir/rebalance
--- wait: 1
--- response_body_like: "helper":\{"pid":\d+,
--- error_log
miroir helper: started, pid



=== TEST 3: the new helper counts its ticks in the zone
--- request
GET /_miroir/rebalance
--- no_error_log
[error]
