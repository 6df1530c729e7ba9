# Miroir's own API keys (/keys): every node has its own master key, so
# Miroir keeps the cluster's keys itself and derives each key's value as
# Meilisearch does, lower-hex HMAC-SHA256(cluster master key, uid).  A fresh
# cluster has Meilisearch's four default keys; keys are created, read (by
# uid or by value), renamed, listed newest first with offset/limit, and
# deleted with Meilisearch's answers and errors; they survive a restart
# (miroir_state); /keys needs a master key; a node down changes nothing;
# node keys never show.

use Test::Nginx::Socket;
use Miroir::Nodes;
use File::Temp qw(tempdir);
use Digest::SHA qw(hmac_sha256_hex);

our $Master = 'golden-master-key-0123456789';
our $NodeKey = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $NodeKey);

$ENV{TEST_NGINX_KEYS_STATE} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_MASTER} = $Master;

our $Uid1 = '11111111-1111-4111-8111-111111111111';
our $Key1 = hmac_sha256_hex($Uid1, $Master);

add_block_preprocessor(sub {
    my $block = shift;
    for my $i (split ' ', $block->kill_node // '') {
        Miroir::Nodes::kill_node($i);
    }
    for my $i (split ' ', $block->restart_node // '') {
        Miroir::Nodes::restart_node($i);
    }
    my $state = defined $block->keep_state
                ? 'miroir_state $TEST_NGINX_KEYS_STATE;' : '';
    my $master = defined $block->no_master
                 ? '' : 'master_key "$TEST_NGINX_MASTER";';
    $block->set_value('http_config', <<"_EOC_") unless defined $block->http_config;
    miroir_zone miroir 1m;
    $state
    miroir_cluster main {
        shards 64;
        replication 2;
        $master
        node_timeout 500ms;
        node n1 \$TEST_NGINX_NODE1 key=$NodeKey;
        node n2 \$TEST_NGINX_NODE2 key=$NodeKey;
        node n3 \$TEST_NGINX_NODE3 key=$NodeKey;
    }
_EOC_
    $block->set_value('config', "    location / { miroir main; }\n")
        unless defined $block->config;
    return $block;
});

no_root_location();
repeat_each(1);
plan 'no_plan';
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a fresh cluster has Meilisearch's four default keys, newest first
--- request
GET /keys
--- more_headers eval
"Authorization: Bearer $::Master"
--- response_body_like eval
qr/^\{"results":\[\{"name":"Default Search API Key","description":"Use it to search from the frontend","key":"[0-9a-f]{64}","uid":"[0-9a-f-]{36}","actions":\["search"\],"indexes":\["\*"\],"expiresAt":null,"createdAt":"[^"]+","updatedAt":"[^"]+"\},\{"name":"Default Admin API Key",.*"actions":\["\*"\].*\{"name":"Default Read-Only Admin API Key",.*"actions":\["\*\.get","keys\.get"\].*\{"name":"Default Chat API Key",.*"actions":\["chatCompletions","search"\].*\],"offset":0,"limit":20,"total":4\}$/
--- no_error_log
[error]



=== TEST 2: create, read by uid and by value, rename, delete
--- request eval
[
"POST /keys
{\"uid\":\"$::Uid1\",\"name\":\"search movies\",\"description\":\"frontend\",\"actions\":[\"search\"],\"indexes\":[\"movies\"],\"expiresAt\":null}",
"GET /keys/$::Uid1",
"GET /keys/$::Key1",
"PATCH /keys/$::Uid1
{\"name\":\"renamed\"}",
"PATCH /keys/$::Key1
{\"description\":null}",
"PATCH /keys/$::Uid1
{\"actions\":[\"*\"]}",
"PATCH /keys/$::Uid1
{\"foo\":1}",
"DELETE /keys/$::Uid1",
"GET /keys/$::Uid1",
"DELETE /keys/$::Uid1",
]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[201, 200, 200, 200, 200, 400, 400, 204, 404, 404]
--- response_body_like eval
[
qr/^\{"name":"search movies","description":"frontend","key":"$::Key1","uid":"$::Uid1","actions":\["search"\],"indexes":\["movies"\],"expiresAt":null,"createdAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z","updatedAt":"[^"]+"\}$/,
qr/"name":"search movies".*"key":"$::Key1"/,
qr/"name":"search movies".*"key":"$::Key1"/,
qr/^\{"name":"renamed","description":"frontend",/,
qr/^\{"name":"renamed","description":null,/,
qr/^\{"message":"Immutable field `actions`: expected one of `description`, `name`","code":"immutable_api_key_actions","type":"invalid_request","link":"https:\/\/docs.meilisearch.com\/errors#immutable_api_key_actions"\}$/,
qr/"message":"Unknown field `foo`: expected one of `description`, `name`","code":"bad_request"/,
qr/^$/,
qr/^\{"message":"API key `$::Uid1` not found.","code":"api_key_not_found","type":"invalid_request","link":"https:\/\/docs.meilisearch.com\/errors#api_key_not_found"\}$/,
qr/"code":"api_key_not_found"/,
]
--- no_error_log
[error]



=== TEST 3: creation errors, as Meilisearch words them
--- request eval
[
"POST /keys
{\"uid\":\"$::Uid1\",\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"uid\":\"$::Uid1\",\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"fly\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"search\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"]}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":\"tomorrow\"}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":\"2000-01-01T00:00:00Z\"}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"a b\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":\"search\",\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null,\"foo\":1}",
"POST /keys
{\"uid\":\"not-a-uuid\",\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"name\":1,\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"search\"],",
"POST /keys
[]",
]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[201, 409, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[
qr/"key":"$::Key1"/,
qr/^\{"message":"`uid` field value `$::Uid1` is already an existing API key.","code":"api_key_already_exists","type":"invalid_request"/,
qr/^\{"message":"Unknown value `fly` at `.actions\[0\]`: expected one of `\*`, `search`, `documents.\*`, .*`dynamicSearchRules.delete`, `dynamicSearchRules.\*`","code":"invalid_api_key_actions"/,
qr/^\{"message":"Missing field `actions`","code":"missing_api_key_actions"/,
qr/^\{"message":"Missing field `indexes`","code":"missing_api_key_indexes"/,
qr/^\{"message":"Missing field `expiresAt`","code":"missing_api_key_expires_at"/,
qr/^\{"message":"Invalid value at `.expiresAt`: `tomorrow` is not a valid date. It should follow the RFC 3339 format to represents a date or datetime in the future or specified as a null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.\\n","code":"invalid_api_key_expires_at"/,
qr/`2000-01-01T00:00:00Z` is not a valid date.*"code":"invalid_api_key_expires_at"/,
qr/"message":"Invalid value at `.indexes\[0\]`: `a b` is not a valid index uid pattern.*"code":"invalid_api_key_indexes"/,
qr/"message":"Invalid value type at `.actions`: expected an array, but found a string: `\\"search\\"`","code":"invalid_api_key_actions"/,
qr/"message":"Unknown field `foo`: expected one of `description`, `name`, `uid`, `actions`, `indexes`, `expiresAt`","code":"bad_request"/,
qr/"code":"invalid_api_key_uid"/,
qr/"message":"Invalid value type at `.name`: expected a string, but found a positive integer: `1`","code":"invalid_api_key_name"/,
qr/"code":"malformed_payload"/,
qr/"code":"bad_request"/,
]
--- no_error_log
[error]



=== TEST 4: content type and payload
--- request eval
[
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys
{\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
"POST /keys",
]
--- more_headers eval
[
"Authorization: Bearer $::Master",
"Authorization: Bearer $::Master\nContent-Type: text/plain",
"Authorization: Bearer $::Master\nContent-Type: application/json",
]
--- error_code eval
[415, 415, 400]
--- response_body_like eval
[
qr/^\{"message":"A Content-Type header is missing. Accepted values for the Content-Type header are: `application\/json`","code":"missing_content_type"/,
qr/"message":"The Content-Type `text\/plain` is invalid. Accepted values for the Content-Type header are: `application\/json`","code":"invalid_content_type"/,
qr/^\{"message":"A json payload is missing.","code":"missing_payload"/,
]
--- no_error_log
[error]



=== TEST 5: list pagination, expiry dates and parameter errors
--- request eval
[
"POST /keys
{\"uid\":\"$::Uid1\",\"actions\":[\"documents.add\",\"tasks.get\"],\"indexes\":[\"*\"],\"expiresAt\":\"2099-12-31\"}",
"POST /keys
{\"uid\":\"22222222-2222-4222-8222-222222222222\",\"actions\":[\"search\"],\"indexes\":[\"mov*\"],\"expiresAt\":\"2099-12-31 23:59:59\"}",
"GET /keys?offset=1&limit=2",
"GET /keys?offset=6",
"GET /keys?limit=abc",
"GET /keys?offset=-1",
]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[201, 201, 200, 200, 400, 400]
--- response_body_like eval
[
qr/"expiresAt":"2099-12-31T00:00:00Z"/,
qr/"indexes":\["mov\*"\],"expiresAt":"2099-12-31T23:59:59Z"/,
qr/^\{"results":\[\{"name":null,"description":null,"key":"$::Key1","uid":"$::Uid1","actions":\["documents.add","tasks.get"\].*\{"name":"Default Search API Key".*\}\],"offset":1,"limit":2,"total":6\}$/,
qr/^\{"results":\[\],"offset":6,"limit":20,"total":6\}$/,
qr/^\{"message":"Invalid value in parameter `limit`: could not parse `abc` as a positive integer","code":"invalid_api_key_limit"/,
qr/"code":"invalid_api_key_offset"/,
]
--- no_error_log
[error]



=== TEST 6: keys persist in the state directory (created here)
--- keep_state
--- request eval
[
"POST /keys
{\"uid\":\"$::Uid1\",\"name\":\"kept\",\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[201]
--- response_body_like eval
[qr/"name":"kept"/]
--- no_error_log
[error]



=== TEST 7: ... and are still there after a restart, with the same defaults
--- keep_state
--- request eval
["GET /keys/$::Uid1", "GET /keys", "GET /indexes"]
--- more_headers eval
["Authorization: Bearer $::Master", "Authorization: Bearer $::Master",
 "Authorization: Bearer $::Key1"]
--- error_code eval
[200, 200, 403]
--- response_body_like eval
[qr/"name":"kept".*"key":"$::Key1"/, qr/"total":5\}$/,
 qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 8: a node down: keys are Miroir's, nothing changes
--- kill_node: 1
--- keep_state
--- request eval
["GET /keys/$::Uid1", "DELETE /keys/$::Uid1", "GET /keys"]
--- more_headers eval
"Authorization: Bearer $::Master"
--- error_code eval
[200, 204, 200]
--- response_body_like eval
[qr/"name":"kept"/, qr/^$/, qr/"total":4\}$/]
--- no_error_log
[error]



=== TEST 9: /keys needs the master key; node keys never show
--- restart_node: 1
--- request eval
["GET /keys", "GET /keys", "GET /keys", "GET /keys", "GET /version"]
--- more_headers eval
["", "Authorization: Token x", "Authorization: Bearer not-the-key",
 "Authorization: Bearer $::Master", "Authorization: Bearer $::Master"]
--- error_code eval
[401, 401, 403, 200, 200]
--- response_body_like eval
[qr/"code":"missing_authorization_header"/,
 qr/"code":"missing_authorization_header"/, qr/"code":"invalid_api_key"/,
 qr/"total":4/, qr/"pkgVersion"/]
--- response_body_unlike eval
qr/node-key-0123456789/
--- no_error_log eval
[qr/node-key/, '[error]']



=== TEST 10: without a master key /keys answers missing_master_key, the rest is open
--- no_master
--- request eval
["GET /keys", "POST /keys\n{}", "GET /version"]
--- more_headers eval
"Content-Type: application/json"
--- error_code eval
[401, 401, 200]
--- response_body_like eval
[qr/^\{"message":"Meilisearch is running without a master key. To access this API endpoint, you must have set a master key at launch.","code":"missing_master_key","type":"auth"/,
 qr/"code":"missing_master_key"/, qr/"pkgVersion"/]
--- no_error_log
[error]
