# The request deadline (cluster option `deadline`) is a limit a client can
# see: with node_timeout (3 s) above it (1 s), a node that hangs (SIGSTOP)
# cannot hold the answer past the deadline (the connection itself is
# released when the late call ends, by node_timeout).  A search whose
# shards only the hung node holds (replication 1) ends with 503 miroir_shards_unavailable naming
# the shards; a write it should take ends with 503 miroir_quorum_not_met; both
# log event=deadline.  Once the node runs again everything answers.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;

Miroir::Cluster::setup(nodes => 2, replication => 1, shards => 16,
                       options => "node_timeout 3s;\ndeadline 1s;");

no_root_location();
repeat_each(1);
# 5 requests: status and body (or the error log) each, plus 2 log checks in
# TEST 4 and 2 in TEST 1 (the [error] check once per request)
plan tests => 14;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an index with documents on both nodes
--- request eval
[
"POST /indexes/q/documents
[{\"id\":1,\"t\":\"a\"},{\"id\":2,\"t\":\"b\"},{\"id\":3,\"t\":\"c\"},{\"id\":4,\"t\":\"d\"},{\"id\":5,\"t\":\"e\"},{\"id\":6,\"t\":\"f\"},{\"id\":7,\"t\":\"g\"},{\"id\":8,\"t\":\"h\"}]",
"GET /indexes/q/documents?limit=0",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 1
--- error_code eval
[202, 200]
--- no_error_log
[error]



=== TEST 2: node 2 hung: the search ends at the deadline, its shards named
--- pause_node: 2
--- request
POST /indexes/q/search
{"q": ""}
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- timeout: 8
--- error_code: 503
--- response_body_like: ^\{"message":"\d+ of 16 shards have no answering copy: [\d,]+\.","code":"miroir_shards_unavailable","type":"system","link":"https://docs.meilisearch.com/errors#miroir_shards_unavailable"\}$
--- error_log
event=deadline



=== TEST 3: node 2 hung: a write it must take ends at the deadline
--- request
POST /indexes/q/documents
[{"id":11,"t":"k"},{"id":12,"t":"l"},{"id":13,"t":"m"},{"id":14,"t":"n"},{"id":15,"t":"o"},{"id":16,"t":"p"}]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- timeout: 8
--- error_code: 503
--- response_body_like: "code":"miroir_quorum_not_met","type":"system"
--- error_log
event=deadline



=== TEST 4: node 2 runs again: searches answer
--- resume_node: 2
--- request
POST /indexes/q/search
{"q": "", "limit": 0}
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 1
--- error_code: 200
--- response_body_like: "estimatedTotalHits":(8|9|1\d)
--- no_error_log
[alert]
[crit]
