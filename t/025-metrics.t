# GET /_miroir/metrics (t/026-promtool.t checks the format with promtool):
# requests counted by route and status class,
# node calls counted per node with errors and latency, node health and
# shards per node; the master key is required and no node key appears.

use Test::Nginx::Socket;
use Miroir::Nodes;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node_timeout 500ms;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location / { miroir main; }\n"
                      . "    location /_miroir/ { miroir_admin main; }\n");
    for my $i (split ' ', $block->kill_node // '') {
        Miroir::Nodes::kill_node($i);
    }
    return $block;
});

no_root_location();
repeat_each(1);
plan tests => repeat_each() * 32;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: traffic, then the metrics that count it
--- request eval
["GET /health", "GET /version", "GET /nope", "GET /_miroir/metrics"]
--- more_headers
Authorization: Bearer s3cret
--- error_code eval
[200, 200, 404, 200]
--- response_body_like eval
[qr/available/, qr/pkgVersion/, qr/^$/,
 qr/(?sx)
   miroir_topology_version\{cluster="main"\}\ 1\n .*
   miroir_requests_total\{cluster="main",route="other",code="4xx"\}\ 1\n .*
   miroir_requests_total\{cluster="main",route="health",code="2xx"\}\ 1\n .*
   miroir_requests_total\{cluster="main",route="version",code="2xx"\}\ 1\n .*
   miroir_node_up\{cluster="main",node="n1"\}\ 1\n .*
   miroir_node_shards\{cluster="main",node="n1",role="primary"\}\ \d+\n .*
   miroir_node_requests_total\{cluster="main",node="n1"\}\ [12]\n .*
   miroir_node_errors_total\{cluster="main",node="n1"\}\ 0\n .*
   miroir_node_request_duration_seconds_count\{cluster="main",node="n1"\}\ [12]\n
 /]
--- response_body_unlike eval
[qr/node-key/, qr/node-key/, qr/node-key/, qr/node-key/]
--- no_error_log
[error]



=== TEST 2: a dead node shows as down, with its failed calls
--- kill_node: 2
--- request eval
["GET /health", "GET /health", "GET /health", "GET /_miroir/metrics"]
--- more_headers
Authorization: Bearer s3cret
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/available/, qr/available/, qr/available/,
 qr/(?s)miroir_node_up\{cluster="main",node="n2"\} 0\n.*miroir_node_errors_total\{cluster="main",node="n2"\} 3\n/]
--- response_body_unlike eval
[qr/^$/, qr/^$/, qr/^$/, qr/^$/]
--- no_error_log
[alert]
