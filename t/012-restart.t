# The topology version is persisted in the miroir_state directory (written
# atomically by the master): a full restart of nginx (a fresh zone) continues
# the saved version when the configuration is unchanged, and takes the next
# one when it changed.  Each block starts a new nginx on the same directory.

use Test::Nginx::Socket;
use File::Temp ();

our $StateDir;
BEGIN {
    $StateDir = File::Temp::tempdir(CLEANUP => 1);
    $ENV{TEST_NGINX_MIROIR_STATE} = "$StateDir/state";
}

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) + 2;
no_shuffle();
run_tests();

ok(-f "$StateDir/state/topology-main.json", "state file written");
open my $fh, '<', "$StateDir/state/topology-main.json" or die;
my $saved = do { local $/; <$fh> };
like($saved, qr/"version":2,"configHash":"[0-9a-f]{16}"/, "state file holds the last version");

__DATA__

=== TEST 1: first start creates the state directory: version 1
--- http_config
    miroir_zone miroir 1m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 32;
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: "version":1,
--- no_error_log
[alert]



=== TEST 2: restart with the same configuration: still version 1
--- http_config
    miroir_zone miroir 1m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 32;
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: "version":1,
--- no_error_log
topology version



=== TEST 3: restart with another node: version 2
--- http_config
    miroir_zone miroir 1m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 32;
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1972;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: "version":2,.*"id":"n2"
--- error_log
topology version 2 (2 nodes, 32 shards, replication 1)
