# The bodies of the admin topology routes (src/miroir_admin_body.c): every
# refusal of a body's shape, types, action or weight is a 400 with its exact
# Meilisearch-style error; ?dry_run= is "true" in any case; a node id added
# at runtime has the configuration's limit (1 to 63 characters: the route
# table keeps an id and its NUL in 64 bytes).  Dry runs only: nothing
# changes, no node is contacted.

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

=== TEST 1: every refused body, with its exact error
--- request eval
[
"POST /_miroir/nodes?dry_run=true
[\"n4\"]",
"POST /_miroir/nodes?dry_run=true
{\"id\":4,\"address\":\"127.0.0.1:1974\"}",
"POST /_miroir/nodes?dry_run=true
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\",\"key\":7}",
"POST /_miroir/nodes?dry_run=true
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\",\"weight\":1.5}",
"PATCH /_miroir/nodes/n1?dry_run=true
{}",
"POST /_miroir/rebalance?dry_run=true
{\"action\":\"Drain\",\"id\":\"n1\"}",
"POST /_miroir/rebalance?dry_run=true
{\"action\":\"drain\",\"id\":[\"n1\"]}",
]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body eval
[
"{\"message\":\"The body must be a JSON object.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`id` and `address` must be strings, `key` a string when present.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`id` and `address` must be strings, `key` a string when present.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`weight` must be an integer from 1 to 1000.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`weight` must be an integer from 1 to 1000.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`action` must be one of `add`, `reweight`, `drain`, `remove`.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
"{\"message\":\"`id` must be a string.\",\"code\":\"miroir_invalid_request\",\"type\":\"invalid_request\",\"link\":\"https://docs.meilisearch.com/errors#miroir_invalid_request\"}",
]



=== TEST 2: accepted bodies, dry runs (?dry_run=TRUE in any case)
--- request eval
[
"POST /_miroir/nodes?dry_run=TRUE
{\"id\":\"n4\",\"address\":\"127.0.0.1:1974\",\"weight\":2.0,\"key\":null}",
"PATCH /_miroir/nodes/n1?dry_run=True
{\"weight\":3,\"id\":\"ignored\"}",
"POST /_miroir/rebalance?dry_run=true
{\"action\":\"reweight\",\"id\":\"n2\",\"weight\":1000}",
"GET /_miroir/topology",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
qr/^\{"version":2,"dryRun":true,"change":\{"action":"add","id":"n4"\},"plan":/,
qr/^\{"version":2,"dryRun":true,"change":\{"action":"reweight","id":"n1"\},"plan":/,
qr/^\{"version":2,"dryRun":true,"change":\{"action":"reweight","id":"n2"\},"plan":/,
qr/^\{"cluster":"main","version":1,/,
]



=== TEST 3: a node id of 63 characters is taken, one of 64 is refused
--- request eval
[
"POST /_miroir/nodes?dry_run=true
{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"address\":\"127.0.0.1:1974\"}",
"POST /_miroir/nodes?dry_run=true
{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"address\":\"127.0.0.1:1974\"}",
]
--- error_code eval
[200, 400]
--- response_body_like eval
[
qr/^\{"version":2,"dryRun":true,"change":\{"action":"add","id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"\},/,
qr/^\{"message":"`id` must be 1 to 63 characters among A-Z a-z 0-9 - _.","code":"miroir_invalid_request"/,
]
