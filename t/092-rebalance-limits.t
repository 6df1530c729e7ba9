# The cap on concurrent migrations is a checked configuration value:
# rebalance_concurrency takes 1..64 (the helper has 64 migration slots), and
# nginx refuses at start, with a message naming the directive and the
# cluster, a value that is not a number, negative, or above 64 (0 is
# t/056's).  The cap itself is enforced during a migration in t/091-faults.t
# (GET /_miroir/rebalance polled: never more than N shards moving).

use Test::Nginx::Socket;

repeat_each(1);
plan tests => 2 + 1 + 1 + 1 + 1;
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: the largest value, 64, is accepted
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        master_key "s3cret";
        rebalance_concurrency 64;
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- more_headers
Authorization: Bearer s3cret
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle",



=== TEST 2: 65 is above the helper's slots
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_concurrency 65;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
"rebalance_concurrency" 65 of miroir_cluster "main" is out of range 1..64



=== TEST 3: a huge value
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_concurrency 1000000;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
"rebalance_concurrency" 1000000 of miroir_cluster "main" is out of range 1..64



=== TEST 4: a negative value
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_concurrency -1;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
invalid value "-1" in "rebalance_concurrency" of miroir_cluster "main"



=== TEST 5: not a number
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_concurrency many;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
invalid value "many" in "rebalance_concurrency" of miroir_cluster "main"
