# Tenant tokens, validated by Miroir: HS256/HS384/HS512 JWTs signed with an
# API key's value, with apiKeyUid, searchRules and exp.  Accepted on the
# search routes only (search POST and GET, facet search, multi-search);
# the rule's filter is AND-ed into the search so that the user's own filter
# cannot widen it; rejected as Meilisearch rejects them (expired, bad
# signature, unknown or unfit key, index outside the rules or the key,
# garbage, other algorithms, other routes).
#
# The filter checks need the read path's three calls of
# ngx_miroir_auth_compose() (see docs/access.md).

use Test::Nginx::Socket;
use Miroir::Nodes;
use File::Temp qw(tempdir);
use Digest::SHA qw(hmac_sha256_hex hmac_sha256 hmac_sha384 hmac_sha512);
use MIME::Base64 qw(encode_base64url);

our $Master = 'golden-master-key-0123456789';
our $NodeKey = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $NodeKey);

my $state = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_KEYS_STATE} = $state;
$ENV{TEST_NGINX_MASTER} = $Master;

our $U1 = '11111111-1111-4111-8111-111111111111';   # search on movies
our $U2 = '22222222-2222-4222-8222-222222222222';   # documents.add only
our $U9 = '99999999-9999-4999-8999-999999999999';   # no such key

open(my $fh, '>', "$state/keys-main.json") or die;
print $fh qq({"keys":[)
    . qq({"uid":"$U1","actions":["search"],"indexes":["movies"],"createdAt":"1","updatedAt":"1"},)
    . qq({"uid":"$U2","actions":["documents.add"],"indexes":["*"],"createdAt":"2","updatedAt":"2"}]});
close($fh);

sub token {
    my ($claims, %o) = @_;
    my $alg = $o{alg} // 'HS256';
    my $uid = $o{uid} // $U1;
    my $secret = $o{secret} // hmac_sha256_hex($uid, $Master);
    my $h = encode_base64url(qq({"alg":"$alg","typ":"JWT"}));
    my $p = encode_base64url($claims);
    my %f = (HS256 => \&hmac_sha256, HS384 => \&hmac_sha384,
             HS512 => \&hmac_sha512, RS256 => \&hmac_sha256);
    my $s = encode_base64url($f{$alg}->("$h.$p", $secret));
    return "$h.$p.$s";
}

sub rules {
    my ($rules, %o) = @_;
    my $uid = $o{uid} // $U1;
    my $exp = exists $o{exp} ? $o{exp} : 4102444800;
    my $claims = qq({"apiKeyUid":"$uid","searchRules":$rules)
                 . (defined $exp ? qq(,"exp":$exp) : '') . '}';
    return "Authorization: Bearer " . token($claims, %o)
           . "\nContent-Type: application/json";
}

add_block_preprocessor(sub {
    my $block = shift;
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

=== TEST 1: the data (master key)
--- request eval
["POST /indexes\n{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
 "PATCH /indexes/movies/settings\n{\"filterableAttributes\":[\"genres\",\"id\"]}",
 "POST /indexes/movies/documents\n[{\"id\":1,\"genres\":[\"action\"]},{\"id\":2,\"genres\":[\"comedy\"]},{\"id\":3,\"genres\":[\"action\",\"comedy\"]},{\"id\":4,\"genres\":[\"drama\"]}]",
 "POST /indexes\n{\"uid\":\"private\",\"primaryKey\":\"id\"}"]
--- more_headers eval
"Authorization: Bearer $::Master\nContent-Type: application/json"
--- error_code eval
[202, 202, 202, 202]
--- response_body_like: "taskUid"
--- wait: 1
--- no_error_log
[error]



=== TEST 2: the token's filter is applied, alone or with the user's
--- request eval
["POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"filter\":\"id > 1\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"filter\":[[\"genres = drama\",\"genres = comedy\"]],\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"filter\":\"genres = drama) OR (genres = comedy\",\"attributesToRetrieve\":[\"id\"]}",
 "GET /indexes/movies/search?q=&attributesToRetrieve=id",
 "GET /indexes/movies/search?q=&attributesToRetrieve=id&filter=id%20%3E%201",
 "POST /indexes/movies/facet-search\n{\"facetName\":\"genres\",\"facetQuery\":\"\"}",
 "POST /multi-search\n{\"queries\":[{\"indexUid\":\"movies\",\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}]}",
 "POST /multi-search\n{\"queries\":[{\"indexUid\":\"movies\",\"q\":\"\"},{\"indexUid\":\"private\",\"q\":\"\"}]}"]
--- more_headers eval
::rules('{"movies":{"filter":"genres = action"}}')
--- error_code eval
[200, 200, 200, 400, 200, 200, 200, 200, 403]
--- response_body_like eval
[qr/"estimatedTotalHits":2\}?/, qr/^\{"hits":\[\{"id":3\}\].*"estimatedTotalHits":1/,
 qr/^\{"hits":\[\{"id":3\}\].*"estimatedTotalHits":1/,
 qr/"code":"invalid_search_filter"/,
 qr/"estimatedTotalHits":2/, qr/^\{"hits":\[\{"id":3\}\]/,
 qr/^\{"facetHits":\[\{"value":"action","count":2\},\{"value":"comedy","count":1\}\]/,
 qr/"estimatedTotalHits":2/,
 qr/^\{"message":"Inside `.queries\[1\]`: The provided API key is invalid.","code":"invalid_api_key","type":"auth"/]
--- response_body_unlike eval
qr/"id":[24]\b/
--- no_error_log
[error]



=== TEST 3: an array filter, a list of patterns, "*": null, no exp, HS384, HS512
--- request eval
["POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}",
 "POST /indexes/movies/search\n{\"q\":\"\",\"attributesToRetrieve\":[\"id\"]}"]
--- more_headers eval
[::rules('{"movies":{"filter":[["genres = comedy","genres = drama"]]}}'),
 ::rules('["movies"]'), ::rules('{"*":null}'), ::rules('["movies"]', exp => undef),
 ::rules('["mov*"]', alg => 'HS384'), ::rules('["movies"]', alg => 'HS512'),
 ::rules('{"*":{"filter":"genres = drama"},"movies":{"filter":"genres = comedy"}}')]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"estimatedTotalHits":3/, qr/"estimatedTotalHits":4/, qr/"estimatedTotalHits":4/,
 qr/"estimatedTotalHits":4/, qr/"estimatedTotalHits":4/, qr/"estimatedTotalHits":4/,
 qr/"estimatedTotalHits":2/]
--- no_error_log
[error]



=== TEST 4: rejected tokens, with Meilisearch's messages
--- request eval
["POST /indexes/private/search\n{\"q\":\"x\"}",
 "POST /indexes/private/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "GET /indexes/movies/documents",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}",
 "POST /indexes/movies/search\n{\"q\":\"x\"}"]
--- more_headers eval
[::rules('["private"]'),
 ::rules('["movies"]'),
 ::rules('["movies"]', exp => 1000000000),
 ::rules('["movies"]', secret => 'wrong'),
 ::rules('["movies"]', secret => $::Master),
 ::rules('["movies"]', uid => $::U9),
 ::rules('["movies"]', uid => $::U2),
 ::rules('["movies"]'),
 "Authorization: Bearer not.a.jwt\nContent-Type: application/json",
 ::rules('["movies"]', alg => 'RS256'),
 "Authorization: Bearer " . MIME::Base64::encode_base64url('{"alg":"HS256"}') . "." . MIME::Base64::encode_base64url('{"apiKeyUid":"x"}') . ".sig\nContent-Type: application/json"]
--- error_code eval
[403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]
--- response_body_like eval
[qr/^\{"message":"The API key used to generate this tenant token cannot acces the index `private`.","code":"invalid_api_key","type":"auth"/,
 qr/^\{"message":"The provided tenant token cannot acces the index `private`, allowed indexes are \[\\"movies\\"\].","code":"invalid_api_key"/,
 qr/^\{"message":"Tenant token expired. Was valid up to `1000000000` and we're now `\d+`.","code":"invalid_api_key"/,
 qr/^\{"message":"Could not decode tenant token, InvalidSignature.","code":"invalid_api_key"/,
 qr/"message":"Could not decode tenant token, InvalidSignature."/,
 qr/^\{"message":"The provided API key is invalid."/,
 qr/^\{"message":"The provided API key is invalid."/,
 qr/^\{"message":"The provided API key is invalid."/,
 qr/^\{"message":"Could not decode tenant token, Base64 error: Invalid last symbol 116, offset 2..","code":"invalid_api_key"/,
 qr/^\{"message":"Could not decode tenant token, InvalidAlgorithm."/,
 qr/^\{"message":"Could not decode tenant token, JSON error: missing field `searchRules`/]
--- no_error_log
[error]
