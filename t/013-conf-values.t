# The miroir_cluster values Miroir parses itself (src/miroir_conf_value.c):
# "nginx -t" refuses a bad integer, write_quorum, on/off flag, weight=,
# empty key= and an unknown node parameter with the exact message, and a
# valid block with every kind of value is served.  Nodes are never
# contacted: addresses only have to parse.

use Test::Nginx::Socket;

repeat_each(1);
plan tests => repeat_each() * (blocks() + 3);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: shards that is not an unsigned integer
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 1k;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "1k" in "shards" of miroir_cluster "main"



=== TEST 2: replication larger than an integer holds
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        replication 99999999999999999999;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "99999999999999999999" in "replication" of miroir_cluster "main"



=== TEST 3: write_quorum is all, majority or one
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        write_quorum All;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "All" in "write_quorum" of miroir_cluster "main"



=== TEST 4: allow_partial is on or off
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        allow_partial yes;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "yes" in "allow_partial" of miroir_cluster "main"



=== TEST 5: weight above 10000
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971 weight=10001;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid weight "weight=10001" for node "n1": expected 1..10000



=== TEST 6: an empty key, quoted
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971 key="";
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
empty key for node "n1"



=== TEST 7: an unknown node parameter
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        node n1 127.0.0.1:1971 backup;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid parameter "backup" for node "n1"



=== TEST 8: every kind of value in one valid block
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 064;
        replication 2;
        write_quorum majority;
        allow_partial on;
        hedge_after off;
        master_key "s3cret";
        node n1 127.0.0.1:1971 weight=0042 key='node-key-1';
        node n2 127.0.0.1:1972 weight=3 weight=5;
        node n3 127.0.0.1:1973 key="k3-first" key=k3;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- more_headers
Authorization: Bearer s3cret
--- response_body chomp
{"cluster":"main","version":1,"shards":64,"replication":2,"nodes":[{"id":"n1","address":"127.0.0.1:1971","weight":42,"state":"active","health":"up"},{"id":"n2","address":"127.0.0.1:1972","weight":5,"state":"active","health":"up"},{"id":"n3","address":"127.0.0.1:1973","weight":1,"state":"active","health":"up"}]}
--- response_body_unlike: node-key|k3
--- no_error_log
[error]
