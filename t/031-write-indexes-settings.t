# Indexes and settings through Miroir (3 emulated nodes, RF 2): create,
# get, list with offset/limit, update the primary key, delete and swap are
# applied on every node; an index is visible only where every node has it.
# Settings (whole object and sub-routes) round-trip exactly as the client
# wrote them, while the nodes always keep Miroir's _miroir_* fields
# filterable (after a reset too) and the client never sees them, neither
# in the settings nor in the task details.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;
use JSON::PP ();

Miroir::Cluster::setup(state => 1, options => 'node_timeout 2s;',
                       hook => sub {
    my $block = shift;
    if (defined $block->node_only) {
        # an index that only node 2 has
        Miroir::Nodes::http_post(2, '/indexes', '{"uid":"lonely"}');
        select(undef, undef, undef, 0.3);
    }
});

no_root_location();
repeat_each(1);
# 35 requests: status, body and two error log checks each; 6 checks on the nodes
plan tests => repeat_each() * 35 * 4 + 6;
no_shuffle();
run_tests();

for my $i (1 .. 3) {
    my $res = Miroir::Nodes::http_get($i,
                  '/indexes/movies/settings/filterable-attributes');
    is($res->{content}, '["_miroir_shard","_miroir_o0","_miroir_o1"]',
       "node $i: a reset keeps Miroir's fields filterable");
    $res = Miroir::Nodes::http_get($i, '/indexes/books');
    is($res->{status}, 404, "node $i: the deleted index is gone");
}

__DATA__

=== TEST 1: create, create again (failed task), invalid uid (400)
--- request eval
[
"POST /indexes\n{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
"POST /indexes\n{\"uid\":\"movies\"}",
"POST /indexes\n{\"uid\":\"bad uid!\"}",
"GET /tasks/0",
"GET /tasks/1",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"taskUid":0,"indexUid":"movies","status":"enqueued","type":"indexCreation","enqueuedAt":"[^"]+"\}$/,
qr/^\{"taskUid":1,"indexUid":"movies","status":"enqueued","type":"indexCreation"/,
qr/^\{"message":"Invalid value at `\.uid`: `bad uid!` is not a valid index uid\..*"code":"invalid_index_uid"/,
qr/^\{"uid":0,"batchUid":0,"indexUid":"movies","status":"succeeded","type":"indexCreation","canceledBy":null,"details":\{"primaryKey":"id"\},"error":null,"duration":"[^"]+","enqueuedAt":"[^"]+","startedAt":"[^"]+","finishedAt":"[^"]+"\}$/,
qr/"status":"failed".*"error":\{"message":"Index `movies` already exists\.","code":"index_already_exists"/,
]
--- error_code eval
[202, 202, 400, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 2: get, get a missing index, list with offset and limit
--- request eval
[
"POST /indexes\n{\"uid\":\"books\"}",
"POST /indexes\n{\"uid\":\"authors\"}",
"GET /indexes/movies",
"GET /indexes/ghost",
"GET /indexes?offset=1&limit=1",
"GET /indexes?limit=x",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":2,/,
qr/"taskUid":3,/,
qr/^\{"uid":"movies","createdAt":"[^"]+","updatedAt":"[^"]+","primaryKey":"id"\}$/,
qr/^\{"message":"Index `ghost` not found\.","code":"index_not_found"/,
qr/^\{"results":\[\{"uid":"books","createdAt":"[^"]+","updatedAt":"[^"]+","primaryKey":null\}\],"offset":1,"limit":1,"total":3\}$/,
qr/"code":"invalid_index_limit"/,
]
--- error_code eval
[202, 202, 200, 404, 200, 400]
--- no_error_log
[error]
[alert]



=== TEST 3: an index only one node has is not visible
--- node_only
--- request eval
[
"GET /indexes/lonely",
"GET /indexes?limit=100",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/"code":"index_not_found"/,
qr/^\{"results":\[\{"uid":"authors".*\{"uid":"books".*\{"uid":"movies".*\],"offset":0,"limit":100,"total":3\}$/,
]
--- error_code eval
[404, 200]
--- no_error_log
[error]
[alert]



=== TEST 4: update the primary key; swap; delete
--- request eval
[
"PATCH /indexes/books\n{\"primaryKey\":\"isbn\"}",
"POST /swap-indexes\n[{\"indexes\":[\"books\",\"authors\"]}]",
"GET /indexes/authors",
"DELETE /indexes/books",
"DELETE /indexes/ghost",
"GET /tasks/4",
"GET /tasks/5",
"GET /tasks/7",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"taskUid":4,"indexUid":"books","status":"enqueued","type":"indexUpdate"/,
qr/^\{"taskUid":5,"indexUid":null,"status":"enqueued","type":"indexSwap"/,
qr/"uid":"authors",.*"primaryKey":"isbn"\}$/,
qr/"taskUid":6,"indexUid":"books","status":"enqueued","type":"indexDeletion"/,
qr/"taskUid":7,"indexUid":"ghost"/,
qr/"status":"succeeded","type":"indexUpdate".*"details":\{"primaryKey":"isbn"/,
qr/"indexUid":null,"status":"succeeded","type":"indexSwap".*"details":\{"swaps":\[\{"indexes":\["books","authors"\],"rename":false\}\]\}/,
qr/"status":"failed","type":"indexDeletion".*"code":"index_not_found"/,
]
--- error_code eval
[202, 202, 200, 202, 202, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 5: settings round-trip: the client sees only its own fields
--- request eval
[
"PATCH /indexes/movies/settings\n{\"filterableAttributes\":[\"genre\",\"year\"],\"sortableAttributes\":[\"year\"]}",
"GET /indexes/movies/settings",
"GET /indexes/movies/settings/filterable-attributes",
"GET /tasks/8",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"taskUid":8,"indexUid":"movies","status":"enqueued","type":"settingsUpdate"/,
qr/^\{"displayedAttributes":\["\*"\],"searchableAttributes":\["\*"\],"filterableAttributes":\["genre","year"\],"sortableAttributes":\["year"\],/,
qr/^\["genre","year"\]$/,
qr/"status":"succeeded","type":"settingsUpdate".*"details":\{"filterableAttributes":\["genre","year"\],"sortableAttributes":\["year"\]\}/,
]
--- error_code eval
[202, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 6: sub-routes: PUT filterable, synonyms; invalid setting is a 400
--- request eval
[
"PUT /indexes/movies/settings/filterable-attributes\n[\"rating\"]",
"PUT /indexes/movies/settings/synonyms\n{\"sf\":[\"san francisco\"]}",
"PATCH /indexes/movies/settings\n{\"rankingRules\":[\"nope\"]}",
"GET /indexes/movies/settings/filterable-attributes",
"GET /indexes/movies/settings/synonyms",
"GET /tasks/9",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":9,/,
qr/"taskUid":10,/,
qr/"code":"invalid_settings_ranking_rules"/,
qr/^\["rating"\]$/,
qr/^\{"sf":\["san francisco"\]\}$/,
qr/"details":\{"filterableAttributes":\["rating"\]\}/,
]
--- error_code eval
[202, 202, 400, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 7: reset the whole settings: defaults for the client
--- request eval
[
"DELETE /indexes/movies/settings",
"GET /indexes/movies/settings/filterable-attributes",
"GET /indexes/movies/settings/synonyms",
"GET /indexes/ghost/settings",
]
--- more_headers
Authorization: Bearer s3cret
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":11,"indexUid":"movies","status":"enqueued","type":"settingsUpdate"/,
qr/^\[\]$/,
qr/^\{\}$/,
qr/"code":"index_not_found"/,
]
--- error_code eval
[202, 200, 200, 404]
--- no_error_log
[error]
[alert]
