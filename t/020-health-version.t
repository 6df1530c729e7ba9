# First traffic through Miroir to real (emulated) Meilisearch nodes:
# GET /health is answered by Miroir from every node's health (available
# while each shard keeps a live copy), GET /version is proxied to one live
# node with that node's own key (quoted or not in the configuration),
# failing over when a node is down; a hung
# node costs at most the node timeout.  Node keys never reach the client.
# Blocks run in order: kill_node / pause_node / restart_node sections act on
# the emulated nodes just before their block runs.

use Test::Nginx::Socket;
use Miroir::Nodes;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

add_block_preprocessor(sub {
    my $block = shift;
    for my $i (split ' ', $block->kill_node // '') {
        Miroir::Nodes::kill_node($i);
    }
    for my $i (split ' ', $block->restart_node // '') {
        Miroir::Nodes::restart_node($i);
    }
    for my $i (split ' ', $block->pause_node // '') {
        Miroir::Nodes::pause_node($i);
    }
    for my $i (split ' ', $block->resume_node // '') {
        Miroir::Nodes::resume_node($i);
    }
    return $block;
});

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node_timeout 500ms;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key="node-key-0123456789";
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', "    location / { miroir main; }\n")
        unless defined $block->config;
    return $block;
});

no_root_location();
repeat_each(1);
plan tests => repeat_each() * (blocks() * 3);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: /health with every node up, without a key (open as in Meilisearch)
--- request
GET /health
--- response_body chomp
{"status":"available"}
--- no_error_log
[error]



=== TEST 2: /version is proxied to a node
--- request
GET /version
--- more_headers
Authorization: Bearer s3cret
--- response_body_like: ^\{"commitSha":"[^"]*","commitDate":"[^"]*","pkgVersion":"1\.50\.0"\}$
--- no_error_log
[error]



=== TEST 3: /version needs the master key
--- request
GET /version
--- error_code: 401
--- response_body_like: "code":"missing_authorization_header"
--- no_error_log
[error]



=== TEST 4: /version with a wrong key, which is not the node key either
--- request
GET /version
--- more_headers
Authorization: Bearer node-key-0123456789
--- error_code: 403
--- response_body_like: "code":"invalid_api_key"
--- no_error_log
[error]



=== TEST 5: node 1 down: /version fails over to the next node
--- kill_node: 1
--- request
GET /version
--- more_headers
Authorization: Bearer s3cret
--- response_body_like: "pkgVersion":"1\.50\.0"
--- error_log
connect() failed (111: Connection refused)



=== TEST 6: node 1 down: still available with replication 2
--- request
GET /health
--- response_body chomp
{"status":"available"}
--- error_log
connect() failed (111: Connection refused)



=== TEST 7: nodes 1 and 2 down: some shards have no live copy
--- kill_node: 2
--- request
GET /health
--- error_code: 503
--- response_body chomp
{"message":"22 of 64 shards have no live copy: 2 of 3 nodes are unavailable (n1, n2) with replication 2.","code":"miroir_shards_unavailable","type":"system","link":"https://docs.meilisearch.com/errors#miroir_shards_unavailable"}
--- error_log
connect() failed (111: Connection refused)



=== TEST 8: nodes back: available again
--- restart_node: 1 2
--- request
GET /health
--- response_body chomp
{"status":"available"}
--- no_error_log
[error]



=== TEST 9: a hung node costs the node timeout, not a stuck request
--- pause_node: 3
--- request
GET /health
--- response_body chomp
{"status":"available"}
--- error_log
upstream timed out



=== TEST 10: every node down with replication 1 on one node
--- resume_node: 3
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster solo {
        node only 127.0.0.1:1;
    }
--- config
    location / { miroir solo; }
--- request
GET /health
--- error_code: 503
--- response_body_like: "code":"miroir_shards_unavailable"
--- error_log
connect() failed
