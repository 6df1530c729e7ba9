# Authorization of every route by Miroir: the master key opens everything;
# an API key opens the routes whose Meilisearch action it holds (directly
# or through "*", "documents.*", "settings.*", "*.get", ...) on the indexes
# its patterns cover ("*", "prefix*", exact); an expired key opens
# nothing; Meilisearch's errors otherwise (401 missing_authorization_header,
# 403 invalid_api_key, naming the authorized indexes when only the index
# is wrong).  /health is open; /_miroir/* takes the master key only; a node
# down does not matter.  The keys are loaded from a keys file written
# before nginx starts (as a restart finds it).

use Test::Nginx::Socket;
use Miroir::Nodes;
use File::Temp qw(tempdir);
use Digest::SHA qw(hmac_sha256_hex);

our $Master = 'golden-master-key-0123456789';
our $NodeKey = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $NodeKey);

my $state = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_KEYS_STATE} = $state;
$ENV{TEST_NGINX_MASTER} = $Master;

# uid => [actions, indexes, expiresAt]
our %K = (
    search   => ['11111111-1111-4111-8111-111111111111', '["search"]', '["movies"]'],
    writer   => ['22222222-2222-4222-8222-222222222222', '["documents.add","tasks.get"]', '["*"]'],
    pattern  => ['33333333-3333-4333-8333-333333333333', '["search","indexes.get"]', '["mov*"]'],
    docs     => ['44444444-4444-4444-8444-444444444444', '["documents.*","settings.*"]', '["*"]'],
    readonly => ['55555555-5555-4555-8555-555555555555', '["*.get","keys.get"]', '["*"]'],
    admin    => ['66666666-6666-4666-8666-666666666666', '["*"]', '["*"]'],
    expired  => ['77777777-7777-4777-8777-777777777777', '["*"]', '["movies"]', 1000000000],
);

our %V;
my @json;
for my $name (sort keys %K) {
    my ($uid, $actions, $indexes, $exp) = @{ $K{$name} };
    $V{$name} = hmac_sha256_hex($uid, $Master);
    push @json, qq({"uid":"$uid","name":"$name","actions":$actions,)
                . qq("indexes":$indexes,)
                . (defined $exp ? qq("expiresAt":$exp,) : '')
                . qq("createdAt":"1700000000000000000","updatedAt":"1700000000000000000"});
}
open(my $fh, '>', "$state/keys-main.json") or die;
print $fh '{"keys":[' . join(',', @json) . ']}';
close($fh);

sub bearer { return "Authorization: Bearer $V{$_[0]}\nContent-Type: application/json" }

add_block_preprocessor(sub {
    my $block = shift;
    for my $i (split ' ', $block->kill_node // '') {
        Miroir::Nodes::kill_node($i);
    }
    for my $i (split ' ', $block->restart_node // '') {
        Miroir::Nodes::restart_node($i);
    }
    $block->set_value('http_config', <<"_EOC_") unless defined $block->http_config;
    miroir_zone miroir 1m;
    miroir_state \$TEST_NGINX_KEYS_STATE;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "\$TEST_NGINX_MASTER";
        node_timeout 500ms;
        node n1 \$TEST_NGINX_NODE1 key=$NodeKey;
        node n2 \$TEST_NGINX_NODE2 key=$NodeKey;
        node n3 \$TEST_NGINX_NODE3 key=$NodeKey;
    }
_EOC_
    $block->set_value('config', "    location / { miroir main; }\n"
                      . "    location /_miroir/ { miroir_admin main; }\n")
        unless defined $block->config;
    return $block;
});

no_root_location();
repeat_each(1);
plan 'no_plan';
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the master key creates the index (and the keys file is read)
--- request eval
["POST /indexes\n{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
 "GET /keys/11111111-1111-4111-8111-111111111111"]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[202, 200]
--- response_body_like eval
[qr/"taskUid"/, qr/"name":"search".*"key":"$::V{search}"/]
--- no_error_log
[error]



=== TEST 2: a search key on its index only, for search only
--- request eval
["POST /indexes/movies/search\n{\"q\":\"\"}",
 "GET /indexes/movies/search?q=x",
 "POST /indexes/private/search\n{\"q\":\"\"}",
 "GET /indexes",
 "GET /keys",
 "GET /indexes/movies/documents",
 "GET /version",
 "POST /multi-search\n{\"queries\":[{\"indexUid\":\"movies\",\"q\":\"\"}]}"]
--- more_headers eval
::bearer('search')
--- error_code eval
[200, 200, 403, 403, 403, 403, 403, 200]
--- response_body_like eval
[qr/"hits":\[/, qr/"hits":\[/,
 qr/^\{"message":"The API key cannot acces the index `private`, authorized indexes are \[\\"movies\\"\].","code":"invalid_api_key","type":"auth","link":"https:\/\/docs.meilisearch.com\/errors#invalid_api_key"\}$/,
 qr/^\{"message":"The provided API key is invalid.","code":"invalid_api_key","type":"auth"/,
 qr/"code":"invalid_api_key"/, qr/"code":"invalid_api_key"/,
 qr/"code":"invalid_api_key"/, qr/"results":\[\{"indexUid":"movies"/]
--- no_error_log
[error]



=== TEST 3: documents.add and tasks.get on every index
--- request eval
["POST /indexes/movies/documents\n[{\"id\":1,\"title\":\"Dune\"}]",
 "GET /tasks",
 "GET /tasks/0",
 "POST /indexes/movies/search\n{\"q\":\"\"}",
 "DELETE /indexes/movies/documents/1",
 "GET /indexes/movies/settings",
 "DELETE /tasks?uids=0",
 "POST /tasks/cancel?uids=0"]
--- more_headers eval
::bearer('writer')
--- error_code eval
[202, 200, 200, 403, 403, 403, 403, 403]
--- response_body_like eval
[qr/"taskUid"/, qr/"results"/, qr/"uid":0/,
 qr/"message":"The provided API key is invalid."/,
 qr/"code":"invalid_api_key"/, qr/"code":"invalid_api_key"/,
 qr/"code":"invalid_api_key"/, qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 4: an index pattern "mov*"
--- request eval
["GET /indexes/movies", "GET /indexes/private", "GET /indexes/movies2",
 "PATCH /indexes/movies\n{\"primaryKey\":\"id\"}"]
--- more_headers eval
::bearer('pattern')
--- error_code eval
[200, 403, 404, 403]
--- response_body_like eval
[qr/"uid":"movies"/,
 qr/^\{"message":"The API key cannot acces the index `private`, authorized indexes are \[\\"mov\*\\"\].","code":"invalid_api_key"/,
 qr/"code":"index_not_found"/, qr/"message":"The provided API key is invalid."/]
--- no_error_log
[error]



=== TEST 5: documents.* and settings.*
--- request eval
["GET /indexes/movies/documents", "POST /indexes/movies/documents/fetch\n{}",
 "DELETE /indexes/movies/documents/99", "GET /indexes/movies/settings",
 "PATCH /indexes/movies/settings\n{\"filterableAttributes\":[\"genres\"]}",
 "GET /indexes/movies/settings/filterable-attributes",
 "GET /indexes/movies", "POST /indexes/movies/search\n{}"]
--- more_headers eval
::bearer('docs')
--- error_code eval
[200, 200, 202, 200, 202, 200, 403, 403]
--- response_body_like eval
[qr/"results"/, qr/"results"/, qr/"taskUid"/, qr/"filterableAttributes"/,
 qr/"taskUid"/, qr/^\[/, qr/"code":"invalid_api_key"/,
 qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 6: "*.get" reads everything but keys; "keys.get" adds the keys
--- request eval
["GET /indexes", "GET /version", "GET /stats", "POST /indexes/movies/search\n{}",
 "GET /keys", "POST /keys\n{\"actions\":[\"*\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
 "POST /indexes/movies/documents\n[]", "DELETE /indexes/movies"]
--- more_headers eval
::bearer('readonly')
--- error_code eval
[200, 200, 200, 200, 200, 403, 403, 403]
--- response_body_like eval
[qr/"results"/, qr/"pkgVersion"/, qr/"indexes"/, qr/"hits"/, qr/"total":7/,
 qr/"code":"invalid_api_key"/, qr/"code":"invalid_api_key"/,
 qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 7: "*" opens every Meilisearch route, keys included, but not /_miroir
--- request eval
["GET /keys", "POST /keys\n{\"uid\":\"88888888-8888-4888-8888-888888888888\",\"actions\":[\"search\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
 "DELETE /keys/88888888-8888-4888-8888-888888888888",
 "GET /indexes/movies/stats", "GET /_miroir/topology"]
--- more_headers eval
::bearer('admin')
--- error_code eval
[200, 201, 204, 200, 403]
--- response_body_like eval
[qr/"total":7/, qr/"uid":"88888888/, qr/^$/, qr/"numberOfDocuments"/,
 qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 8: an expired key opens nothing (but the index is checked first)
--- request eval
["GET /indexes/movies", "GET /version", "GET /indexes/other"]
--- more_headers eval
::bearer('expired')
--- error_code eval
[403, 403, 403]
--- response_body_like eval
[qr/^\{"message":"The provided API key is invalid."/,
 qr/^\{"message":"The provided API key is invalid."/,
 qr/^\{"message":"The API key cannot acces the index `other`, authorized indexes are \[\\"movies\\"\]."/]
--- no_error_log
[error]



=== TEST 9: no key, a malformed header, an unknown key; /health is open
--- request eval
["GET /indexes", "GET /indexes", "GET /indexes", "GET /health",
 "GET /health", "GET /_miroir/topology"]
--- more_headers eval
["", "Authorization: Token $::Master", "Authorization: Bearer nope",
 "", "Authorization: Bearer nope", "Authorization: Bearer $::Master"]
--- error_code eval
[401, 401, 403, 200, 200, 200]
--- response_body_like eval
[qr/^\{"message":"The Authorization header is missing. It must use the bearer authorization method.","code":"missing_authorization_header","type":"auth"/,
 qr/"code":"missing_authorization_header"/, qr/"code":"invalid_api_key"/,
 qr/"available"/, qr/"available"/,
 qr/"shards":64/]
--- no_error_log
[error]



=== TEST 10: a node down: API keys still work
--- kill_node: 1
--- request eval
["GET /version", "POST /indexes/movies/search\n{\"q\":\"\"}"]
--- more_headers eval
[::bearer('readonly'), ::bearer('search')]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"pkgVersion"/, qr/"hits"/]
--- error_log
connect() failed
