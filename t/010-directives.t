# Configuration of Miroir: every directive error that "nginx -t" must report
# (duplicate node ids and addresses, replication out of range, shards out of
# range, unknown cluster, missing or too small zone, bad node syntax), and a
# valid configuration whose topology is served at /_miroir/topology.
# Nodes are never contacted here: addresses only have to parse.

use Test::Nginx::Socket;

repeat_each(1);
plan tests => repeat_each() * (blocks() + 10);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: duplicate node id
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        replication 1;
        node n1 127.0.0.1:1971;
        node n1 127.0.0.1:1972;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
duplicate node id "n1" in miroir_cluster "main"



=== TEST 2: duplicate node address
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
duplicate node address "127.0.0.1:1971" in miroir_cluster "main"



=== TEST 3: replication larger than the node count
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        replication 3;
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1972;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"replication" 3 of miroir_cluster "main" is larger than its 2 node(s)



=== TEST 4: replication below 1
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        replication 0;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"replication" 0 of miroir_cluster "main" is out of range 1..3



=== TEST 5: shards out of range (zero)
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 0;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"shards" 0 of miroir_cluster "main" is out of range 1..65536



=== TEST 6: shards out of range (too many)
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 65537;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"shards" 65537 of miroir_cluster "main" is out of range 1..65536



=== TEST 7: unknown cluster in a location
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir other; }
--- must_die
--- error_log
unknown miroir cluster "other"



=== TEST 8: a cluster without miroir_zone
--- http_config
    miroir_cluster main {
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"miroir_cluster" requires a "miroir_zone" directive in the http block



=== TEST 9: zone too small for its clusters
--- http_config
    miroir_zone miroir 64k;
    miroir_cluster main {
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log eval
qr/miroir_zone "miroir" is too small: \d+ bytes given, at least \d+ needed for 1 cluster/



=== TEST 10: zone below the slab minimum
--- http_config
    miroir_zone miroir 8k;
--- config
    location / { return 200; }
--- must_die
--- error_log eval
qr/miroir_zone "miroir" is too small: at least \d+ bytes needed/



=== TEST 11: invalid node address
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid node address "127.0.0.1" for node "n1": expected HOST:PORT



=== TEST 12: invalid node id
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node "n 1" 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid node id "n 1" in miroir_cluster "main"



=== TEST 13: invalid weight
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971 weight=0;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid weight "weight=0" for node "n1": expected 1..10000



=== TEST 14: unknown directive inside miroir_cluster
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971;
        replicas 2;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
unknown directive "replicas" in miroir_cluster "main"



=== TEST 15: a cluster with no node
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 16;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
miroir_cluster "main" has no "node"



=== TEST 16: duplicate miroir_zone
--- http_config
    miroir_zone miroir 1m;
    miroir_zone other 1m;
--- config
    location / { return 200; }
--- must_die
--- error_log
"miroir_zone" directive is duplicate



=== TEST 17: a valid configuration serves its topology (master key needed)
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 256;
        replication 2;
        master_key "s3cret";
        node n1 127.0.0.1:1971 weight=2 key=node-key-1;
        node n2 127.0.0.1:1972;
        node n3 127.0.0.1:1973;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- more_headers
Authorization: Bearer s3cret
--- response_body chomp
{"cluster":"main","version":1,"shards":256,"replication":2,"nodes":[{"id":"n1","address":"127.0.0.1:1971","weight":2,"state":"active","health":"up"},{"id":"n2","address":"127.0.0.1:1972","weight":1,"state":"active","health":"up"},{"id":"n3","address":"127.0.0.1:1973","weight":1,"state":"active","health":"up"}]}
--- response_headers
Content-Type: application/json
--- response_body_unlike: node-key
--- no_error_log
[error]



=== TEST 18: the admin API refuses a client without the master key
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        master_key "s3cret";
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- error_code: 401
--- response_body chomp
{"message":"The Authorization header is missing. It must use the bearer authorization method.","code":"missing_authorization_header","type":"auth","link":"https://docs.meilisearch.com/errors#missing_authorization_header"}
--- no_error_log
[error]



=== TEST 19: the admin API refuses a wrong key
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        master_key "s3cret";
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- more_headers
Authorization: Bearer s3cret-not
--- error_code: 403
--- response_body_like: "code":"invalid_api_key"
--- no_error_log
[error]



=== TEST 20: stable_ties on is accepted
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        stable_ties on;
        master_key "s3cret";
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- more_headers
Authorization: Bearer s3cret
--- error_code: 200
--- response_body_like: "cluster":"main"
--- no_error_log
[error]



=== TEST 21: stable_ties takes on or off only
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        stable_ties yes;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "yes"
