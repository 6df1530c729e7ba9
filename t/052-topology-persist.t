# Runtime topology changes survive a restart: the admin API writes them
# atomically to the state directory (rebalance-<cluster>.json, written by
# a worker running as the unprivileged user: the directory is created for
# it), and the next start restores the nodes, the stored shard table and
# the pending plan, with the same version.  A configuration that changes
# the topology wins over the saved runtime state, with a higher version.
# Each block is a fresh start (no HUP) sharing one state directory.

use Test::Nginx::Socket;
use File::Temp qw(tempdir);

my $dir = tempdir('miroir-052-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
$ENV{TEST_NGINX_MIROIR_STATE} = "$dir/state";

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 1m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1972;
        node n3 127.0.0.1:1973;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $conf = $HttpConfig;
    $conf =~ s/(node n3 127.0.0.1:1973)/$1 weight=2/ if $block->name =~ /TEST 4:/;
    $block->set_value('http_config', $conf);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");
    return $block;
});

master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 8 + 3 + 6 + 6;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: add a node and drain another (workers write the state)
--- request eval
[
"POST /_miroir/nodes
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\",\"key\":\"k4\"}",
"POST /_miroir/nodes/n2/drain",
]
--- error_code eval
[202, 202]
--- response_body_like eval
[
qr/"version":2,/,
qr/"version":3,/,
]
--- no_error_log
[error]
[alert]



=== TEST 2: after a restart: the same version and nodes
--- request
GET /_miroir/topology
--- response_body_like: ^\{"cluster":"main","version":3,.*"id":"n2","address":"127.0.0.1:1972","weight":1,"state":"draining".*"id":"n4","address":"127.0.0.1:1974","weight":1,"state":"joining"
--- error_log
runtime topology version 3 restored (4 nodes, rebalance pending)



=== TEST 3: after another restart: the stored table and the pending plan
--- request eval
[
"GET /_miroir/rebalance",
"GET /_miroir/shards/doc-42",
]
--- error_code eval
[200, 200]
--- response_body_like eval
[
qr/^\{"state":"running","version":3,"paused":false,.*"shardsMoving":[1-9]/,
qr/"version":3,.*"targetOwners":.*"table":"stored"/,
]
--- no_error_log
[error]



=== TEST 4: a configuration change wins: configured nodes, next version, idle
--- request eval
[
"GET /_miroir/topology",
"GET /_miroir/rebalance",
]
--- error_code eval
[200, 200]
--- response_body_like eval
[
qr/^(?!.*n4)\{"cluster":"main","version":4,.*"id":"n3","address":"127.0.0.1:1973","weight":2,/,
qr/^\{"state":"idle","version":4,/,
]
--- no_error_log
[error]
