# The topology lives in the shared zone and survives "nginx -s reload" (HUP):
# the zone is reused, not re-initialised, so an unchanged configuration keeps
# the version it had, and a changed one gets the next version.  Every worker
# answers the same (master_process on, 2 workers).  No miroir_state here: the
# version can only come from the reused zone.

use Test::Nginx::Socket;

use_hup();
master_on();
workers(2);
repeat_each(1);
plan tests => repeat_each() * (blocks() * 3);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: first start: version 1
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 1;
        node n1 127.0.0.1:1971;
        node n2 127.0.0.1:1972;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: ^\{"cluster":"main","version":1,"shards":64,"replication":1,.*"weight":1,
--- no_error_log
[error]



=== TEST 2: reload with a changed weight: version 2
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 1;
        node n1 127.0.0.1:1971 weight=3;
        node n2 127.0.0.1:1972;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: ^\{"cluster":"main","version":2,"shards":64,"replication":1,"nodes":\[\{"id":"n1","address":"127.0.0.1:1971","weight":3,
--- error_log
topology version 2 (2 nodes, 64 shards, replication 1)



=== TEST 3: reload with the same configuration: still version 2 (zone reused)
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 1;
        node n1 127.0.0.1:1971 weight=3;
        node n2 127.0.0.1:1972;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: ^\{"cluster":"main","version":2,
--- no_error_log
topology version



=== TEST 4: reload adding a node: version 3
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 1;
        node n1 127.0.0.1:1971 weight=3;
        node n2 127.0.0.1:1972;
        node n3 127.0.0.1:1973;
    }
--- config
    location /_miroir/ { miroir_admin main; }
--- request
GET /_miroir/topology
--- response_body_like: ^\{"cluster":"main","version":3,.*"id":"n3"
--- no_error_log
[error]
