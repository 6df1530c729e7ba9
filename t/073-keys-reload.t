# The keys live in the shared zone: "nginx -s reload" (HUP) keeps them
# without any miroir_state, every worker (2 here) sees a change at once,
# and a new master key changes every key's value on reload, as a
# Meilisearch restarted with another master key would.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Digest::SHA qw(hmac_sha256_hex);

our $NodeKey = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $NodeKey);

our $Uid = '11111111-1111-4111-8111-111111111111';
our $V1 = hmac_sha256_hex($Uid, 'master-one');
our $V2 = hmac_sha256_hex($Uid, 'master-two');

add_block_preprocessor(sub {
    my $block = shift;
    my $master = $block->master // 'master-one';
    $block->set_value('http_config', <<"_EOC_");
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "$master";
        node n1 \$TEST_NGINX_NODE1 key=$NodeKey;
        node n2 \$TEST_NGINX_NODE2 key=$NodeKey;
        node n3 \$TEST_NGINX_NODE3 key=$NodeKey;
    }
_EOC_
    $block->set_value('config', "    location / { miroir main; }\n");
    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan 'no_plan';
no_shuffle();
run_tests();

__DATA__

=== TEST 1: create a key, then use it many times (both workers see it)
--- request eval
["POST /keys\n{\"uid\":\"$::Uid\",\"actions\":[\"version\"],\"indexes\":[\"*\"],\"expiresAt\":null}",
 ("GET /version") x 6]
--- more_headers eval
["Authorization: Bearer master-one\nContent-Type: application/json",
 ("Authorization: Bearer $::V1") x 6]
--- error_code eval
[201, (200) x 6]
--- response_body_like eval
[qr/"key":"$::V1"/, (qr/"pkgVersion"/) x 6]
--- no_error_log
[error]



=== TEST 2: after a reload the key is still there
--- request eval
["GET /keys/$::Uid", ("GET /version") x 4]
--- more_headers eval
["Authorization: Bearer master-one", ("Authorization: Bearer $::V1") x 4]
--- error_code eval
[200, (200) x 4]
--- response_body_like eval
[qr/"key":"$::V1"/, (qr/"pkgVersion"/) x 4]
--- no_error_log
[error]



=== TEST 3: reload with another master key: the same key, a new value
--- master: master-two
--- request eval
["GET /keys/$::Uid", "GET /version", "GET /version", "GET /keys"]
--- more_headers eval
["Authorization: Bearer master-two", "Authorization: Bearer $::V2",
 "Authorization: Bearer $::V1", "Authorization: Bearer master-one"]
--- error_code eval
[200, 200, 403, 403]
--- response_body_like eval
[qr/"key":"$::V2"/, qr/"pkgVersion"/, qr/"code":"invalid_api_key"/,
 qr/"code":"invalid_api_key"/]
--- no_error_log
[error]



=== TEST 4: deleted in one request, gone for every worker
--- master: master-two
--- request eval
["DELETE /keys/$::Uid", ("GET /version") x 4]
--- more_headers eval
["Authorization: Bearer master-two", ("Authorization: Bearer $::V2") x 4]
--- error_code eval
[204, (403) x 4]
--- response_body_like eval
[qr/^$/, (qr/"code":"invalid_api_key"/) x 4]
--- no_error_log
[error]
