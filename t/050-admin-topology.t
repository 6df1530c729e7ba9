# Topology changes through the admin API (docs/rebalancing.md): adding,
# draining, reweighting and removing nodes give a new topology version and
# a plan that moves only what the change needs (an add moves copies only
# onto the new node, a drain only off the drained one); a dry run shows the
# plan and changes nothing; GET /_miroir/shards/{docid} explains where a
# document lives; bad requests get Meilisearch-style errors.  No node is
# contacted: the nodes' addresses are never dialled here.

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

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n")
        unless defined $block->config;
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json")
        unless defined $block->more_headers;
    $block->set_value('no_error_log', "[error]\n")
        unless defined $block->no_error_log;
    return $block;
});

# three checks per request: status, body, no [error]
my $n = 0;
for my $b (blocks()) {
    my $r = $b->request;
    $n += ref $r eq 'ARRAY' ? scalar @$r : 1;
}

no_root_location();
repeat_each(1);
plan tests => 3 * $n;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: before any change: idle, no plan
--- request
GET /_miroir/rebalance
--- error_code: 200
--- response_body_like: ^\{"state":"idle","version":1,"paused":false,"helper":\{"pid":\d+,"ticks":\d+\},"plan":null,"progress":\{"shardsTotal":0,



=== TEST 2: dry run of an add: the plan, moves only onto n4, nothing changes
--- request eval
[
"POST /_miroir/rebalance?dry_run=true
{\"action\":\"add\",\"id\":\"n4\",\"address\":\"127.0.0.1:1974\"}",
"GET /_miroir/topology",
"GET /_miroir/rebalance",
]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[
qr/^(?!.*"to":"n[123]")\{"version":2,"dryRun":true,"change":\{"action":"add","id":"n4"\},"plan":\{"moves":\[\{"shard":\d+,"from":"n[123]","to":"n4"\}.*\],"shardsMoving":32,"copiesMoved":32,"shardsRelabeled":0\}\}$/s,
qr/^(?!.*"n4")\{"cluster":"main","version":1,/s,
qr/^\{"state":"idle","version":1,/,
]



=== TEST 3: add a node: version 2, n4 joining, plan pending with 32 copies onto n4
--- request eval
[
"POST /_miroir/nodes
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\",\"weight\":1,\"key\":\"k4\"}",
"GET /_miroir/topology",
"GET /_miroir/rebalance",
"GET /_miroir/shards/doc-42",
]
--- error_code eval
[202, 200, 200, 200]
--- response_body_like eval
[
qr/^(?!.*"to":"n[123]")\{"version":2,"dryRun":false,"change":\{"action":"add","id":"n4"\},"plan":\{"moves":\[.*"copiesMoved":32,/s,
qr/^(?!.*k4)\{"cluster":"main","version":2,.*\{"id":"n4","address":"127.0.0.1:1974","weight":1,"state":"joining"/s,
qr/^\{"state":"running","version":2,"paused":false,.*"plan":\{"moves":\[.*"progress":\{"shardsTotal":32,"shardsDone":0,"documentsCopied":0,.*"shards":\[\{"shard":\d+,"state":"planned","from":\["n\d","n\d"\],"to":\["n\d","n\d"\]\}/s,
qr/^\{"documentId":"doc-42","shard":\d+,"version":2,"owners":\["n[123]","n[123]"\],"targetOwners":\["n\d","n\d"\],"state":"(stable|planned)","table":"stored","scores":\[(\{"node":"n\d","weight":1,"score":[-+.\de]+,"owner":(true|false)\},?){4}\]\}$/,
]



=== TEST 4: drain: only the drained node's copies move; a second drain is refused
--- request eval
[
"POST /_miroir/nodes/n2/drain",
"GET /_miroir/topology",
"POST /_miroir/nodes/n2/drain",
]
--- error_code eval
[202, 200, 409]
--- response_body_like eval
[
qr/^(?!.*"from":"n[13]")\{"version":2,"dryRun":false,"change":\{"action":"drain","id":"n2"\},"plan":\{"moves":\[\{"shard":\d+,"from":"n2","to":"n[13]"\}/s,
qr/\{"id":"n2","address":"127.0.0.1:1972","weight":1,"state":"draining"/,
qr/"code":"miroir_node_draining"/,
]



=== TEST 5: reweight: copies move only onto the heavier node
--- request eval
[
"PATCH /_miroir/nodes/n1
{\"weight\":2}",
"GET /_miroir/topology",
]
--- error_code eval
[202, 200]
--- response_body_like eval
[
qr/^(?!.*"to":"n[23]")\{"version":2,"dryRun":false,"change":\{"action":"reweight","id":"n1"\},"plan":\{"moves":\[\{"shard":\d+,"from":"n[23]","to":"n1"\}/s,
qr/\{"id":"n1","address":"127.0.0.1:1971","weight":2,/,
]



=== TEST 6: remove: refused while the node holds shards, forced for a dead node
--- request eval
[
"DELETE /_miroir/nodes/n3",
"DELETE /_miroir/nodes/n3?force=true",
"GET /_miroir/topology",
"DELETE /_miroir/nodes/n3?force=true",
]
--- error_code eval
[409, 202, 200, 404]
--- response_body_like eval
[
qr/"code":"miroir_node_not_drained"/,
qr/^(?!.*"from":"n[12]")\{"version":2,"dryRun":false,"change":\{"action":"remove","id":"n3"\},"plan":\{"moves":\[\{"shard":\d+,"from":"n3","to":"n[12]"\}/s,
qr/\{"id":"n3","address":"127.0.0.1:1973","weight":1,"state":"removed"/,
qr/"code":"miroir_node_not_found"/,
]



=== TEST 7: changes stack: add n4, then remove it (it holds nothing yet): no plan left
--- request eval
[
"POST /_miroir/nodes
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\"}",
"DELETE /_miroir/nodes/n4",
"GET /_miroir/rebalance",
]
--- error_code eval
[202, 202, 200]
--- response_body_like eval
[
qr/"version":2,.*"copiesMoved":32,/,
qr/^\{"version":3,"dryRun":false,"change":\{"action":"remove","id":"n4"\},"plan":\{"moves":\[\],"shardsMoving":0,"copiesMoved":0,"shardsRelabeled":0\}\}$/,
qr/^\{"state":"idle","version":3,/,
]



=== TEST 8: bad requests: Meilisearch-style errors, nothing changes
--- request eval
[
"POST /_miroir/nodes
{\"id\":\"n1\",\"address\":\"127.0.0.1:1975\"}",
"POST /_miroir/nodes
{\"id\":\"n9\",\"address\":\"localhost:7700\"}",
"POST /_miroir/nodes
{\"id\":\"n9\",\"address\":\"127.0.0.1:1979\",\"weight\":0}",
"POST /_miroir/nodes
{\"id\":\"bad id!\",\"address\":\"127.0.0.1:1979\"}",
"POST /_miroir/nodes
not json",
"POST /_miroir/nodes
{\"address\":\"127.0.0.1:1979\"}",
"PATCH /_miroir/nodes/zz
{\"weight\":2}",
"PATCH /_miroir/nodes/n1
{\"weight\":\"heavy\"}",
"POST /_miroir/nodes/zz/drain",
"POST /_miroir/rebalance?dry_run=true
{\"action\":\"explode\",\"id\":\"n1\"}",
"GET /_miroir/nodes",
"GET /_miroir/topology",
]
--- error_code eval
[409, 400, 400, 400, 400, 400, 404, 400, 404, 400, 405, 200]
--- response_body_like eval
[
qr/\{"message":"Node `n1` already exists.","code":"miroir_node_already_exists","type":"invalid_request","link":/,
qr/"code":"miroir_invalid_request"/,
qr/"message":"`weight` must be an integer from 1 to 1000.","code":"miroir_invalid_request"/,
qr/"code":"miroir_invalid_request"/,
qr/"code":"miroir_invalid_request"/,
qr/"code":"miroir_invalid_request"/,
qr/\{"message":"Node `zz` not found.","code":"miroir_node_not_found"/,
qr/"code":"miroir_invalid_request"/,
qr/"code":"miroir_node_not_found"/,
qr/"code":"miroir_invalid_request"/,
qr/405 Not Allowed/,
qr/^\{"cluster":"main","version":1,/,
]



=== TEST 9: the master key is required
--- more_headers
Content-Type: application/json
--- request
POST /_miroir/nodes
{"id":"n4","address":"127.0.0.1:1974"}
--- error_code: 401
--- response_body_like: "code":"missing_authorization_header"



=== TEST 10: where a document lives, before any change: the router's table
--- request eval
[
"GET /_miroir/shards/doc-42",
"GET /_miroir/shards/42",
]
--- error_code eval
[200, 200]
--- response_body_like eval
[
qr/^\{"documentId":"doc-42","shard":\d+,"version":1,"owners":\["(n\d)","(?!\1)n\d"\],"state":"stable","table":"router","scores":\[\{"node":"n\d","weight":1,"score":[-+.\de]+,"owner":(true|false)\},\{.*\},\{.*\}\]\}$/,
qr/^\{"documentId":"42","shard":\d+,/,
]



=== TEST 11: pause and resume
--- request eval
[
"POST /_miroir/nodes
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\"}",
"POST /_miroir/rebalance/pause",
"GET /_miroir/rebalance",
"POST /_miroir/rebalance/resume",
]
--- error_code eval
[202, 200, 200, 200]
--- response_body_like eval
[
qr/"version":2/,
qr/^\{"state":"paused","version":2,"paused":true,/,
qr/^\{"state":"paused",/,
qr/^\{"state":"running","version":2,"paused":false,/,
]



=== TEST 12: health: yellow while shards are planned to move
--- request eval
[
"GET /_miroir/health",
"POST /_miroir/nodes
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\"}",
"GET /_miroir/health",
]
--- error_code eval
[200, 202, 200]
--- response_body_like eval
[
qr/"shardsMoving":0,"shardsStale":0\}$/,
qr/"version":2/,
qr/^\{"status":"yellow","reasons":\[.*"32 shards are being moved"\],.*"shardsMoving":32,"shardsStale":0\}$/,
]
