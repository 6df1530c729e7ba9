# The rebalancing options of a miroir_cluster block: rebalance_concurrency
# (shards moved at once, at least 1), rebalance_rate (documents/s, 0 = no
# limit) and down_after (a time); bad values stop nginx at start.

use Test::Nginx::Socket;

repeat_each(1);
plan tests => 2 + 1 + 1 + 1;
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: accepted values
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        master_key "s3cret";
        rebalance_concurrency 8;
        rebalance_rate 1000;
        down_after 10m;
        node n1 127.0.0.1:1971;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- more_headers
Authorization: Bearer s3cret
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle",



=== TEST 2: rebalance_concurrency 0
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_concurrency 0;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
"rebalance_concurrency" of miroir_cluster "main" must be at least 1



=== TEST 3: rebalance_rate not a number
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        rebalance_rate fast;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
invalid value "fast" in "rebalance_rate" of miroir_cluster "main"



=== TEST 4: down_after not a time
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        down_after soon;
        node n1 127.0.0.1:1971;
    }
--- must_die
--- error_log
invalid value "soon" in "down_after" of miroir_cluster "main"
