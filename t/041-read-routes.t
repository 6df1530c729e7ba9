# Each read route through Miroir (3 emulated nodes, 64 shards, RF 2), with
# the nodes loaded directly with documents tagged as miroir_split() tags
# them (tools/miroir-split): search (POST and GET), the filters Miroir
# refuses, node errors forwarded as they are, documents, one document,
# stats, facet search, multi-search; then failures: a node that drops its
# answer or hangs during a query (its shards are asked from their next
# owner: no failed search), a slow node hedged (hedge_after), a node killed
# before the query, and two nodes down at RF 2 (503
# miroir_shards_unavailable).  The exact answers of each
# route against a single node are checked by t/040-oracle.t.

use Test::Nginx::Socket;
use Miroir::Nodes;
use File::Temp qw(tempdir);
use JSON::PP;

my $Key = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $Key);

# ---- seed the nodes as the write path would
my @docs = (
    { id => 1, title => 'The Dark Knight', genres => ['action', 'drama'],
      year => 2008, rating => 9.0 },
    { id => 2, title => 'Dark City', genres => ['sci-fi'], year => 1998,
      rating => 7.6 },
    { id => 3, title => 'Knight and Day', genres => ['action', 'comedy'],
      year => 2010, rating => 6.3 },
    { id => 4, title => 'Night Knight', genres => ['comedy'], rating => 5.1 },
    { id => 5, title => 'Dark Shadows', genres => ['comedy', 'fantasy'],
      year => 2012, rating => 6.2 },
    { id => 6, title => 'A Knight\'s Tale', genres => ['action'],
      year => 2001, rating => 6.9 },
    { id => 7, title => 'Interstellar', genres => ['sci-fi', 'drama'],
      year => 2014, rating => 8.7 },
    { id => 8, title => 'Darkness Falls', genres => ['horror'],
      year => 2003, rating => 4.9 },
    { id => 'a-9', title => 'Knightfall', genres => ['drama'],
      year => 2017, rating => 6.8 },
    { id => 10, title => 'Batman Begins', genres => ['action'],
      year => 2005, rating => 8.2 },
    { id => 11, title => 'Tenet', genres => ['sci-fi', 'action'],
      year => 2020, rating => 7.3 },
    { id => 12, title => 'Inception', genres => ['sci-fi', 'action'],
      year => 2010, rating => 8.8 },
);

my $tmp = tempdir(CLEANUP => 1);
my @core = map { "src/$_.c" } qw(miroir_router miroir_split miroir_split_ids
    miroir_csv miroir_docid miroir_bytes miroir_error miroir_json_scan
    miroir_jspan);
system('cc', '-O1', '-Isrc', 'tools/miroir-split.c', @core, '-lcjson',
       '-lxxhash', '-lm', '-o', "$tmp/split") == 0
    or die "cannot build tools/miroir-split";
open(my $in, '|-', "$tmp/split --shards 64 --rf 2 --nodes n1,n2,n3 "
                   . "--pk id --out $tmp > /dev/null") or die;
print $in JSON::PP->new->canonical->encode(\@docs);
close($in) or die "miroir-split failed";

my $settings = encode_json({
    searchableAttributes => ['title'],
    filterableAttributes => ['genres', 'year', 'rating', '_miroir_shard',
                             '_miroir_o0', '_miroir_o1'],
    sortableAttributes => ['year', 'rating'],
});

for my $i (1 .. 3) {
    Miroir::Nodes::http_post($i, '/indexes',
                             encode_json({ uid => 'movies',
                                           primaryKey => 'id' }));
    Miroir::Nodes::http_patch($i, '/indexes/movies/settings', $settings);
    open(my $fh, '<', "$tmp/n$i.ndjson") or die;
    my $nd = do { local $/; <$fh> };
    Miroir::Nodes::http_post($i, '/indexes/movies/documents', $nd,
                             'Content-Type' => 'application/x-ndjson')
        if length $nd;
}

for my $i (1 .. 3) {
    for (1 .. 200) {
        my $r = Miroir::Nodes::http_get($i,
                                        '/tasks?statuses=enqueued,processing');
        last if $r->{content} =~ /"total":0/;
        select(undef, undef, undef, 0.05);
    }
}

# ---- per block: faults and kills on the nodes
add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->node_faults) {
        my ($i, $json) = split ' ', $block->node_faults, 2;
        Miroir::Nodes::http_post($i, '/_meilisim/faults', $json);
    }
    for my $i (split ' ', $block->kill_node // '') {
        Miroir::Nodes::kill_node($i);
    }
    return $block;
});

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node_timeout 500ms;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', "    location / { miroir main; }\n")
        unless defined $block->config;
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\n"
                      . "Content-Type: application/json\n")
        unless defined $block->more_headers;
    return $block;
});

no_root_location();
repeat_each(1);
# 1 status check per block, 1 per body or log section
plan tests => repeat_each() * 67;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: search: every shard answered once, Miroir's fields removed
--- request
POST /indexes/movies/search
{"q": "dark", "attributesToRetrieve": ["id"]}
--- response_body_like: ^\{"hits":\[\{"id":\d+\},\{"id":\d+\},\{"id":\d+\},\{"id":\d+\}\],"query":"dark","processingTimeMs":\d+,"limit":20,"offset":0,"estimatedTotalHits":4,"requestUid":"[0-9a-f-]{36}"\}$
--- response_body_unlike: _miroir|_rankingScoreDetails
--- no_error_log
[error]



=== TEST 2: search: offset and limit applied once, over all shards
--- request
POST /indexes/movies/search
{"sort": ["year:asc"], "offset": 2, "limit": 3, "attributesToRetrieve": ["id", "year"]}
--- response_body_like: ^\{"hits":\[\{"id":8,"year":2003\},\{"id":10,"year":2005\},\{"id":1,"year":2008\}\],"query":"","processingTimeMs":\d+,"limit":3,"offset":2,"estimatedTotalHits":12,
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 3: GET search with a filter and page mode
--- request
GET /indexes/movies/search?filter=year%20%3E%3D%202010&sort=year:desc&page=2&hitsPerPage=2&attributesToRetrieve=id
--- response_body_like: ^\{"hits":\[\{"id":7\},\{"id":5\}\],"query":"","processingTimeMs":\d+,"hitsPerPage":2,"page":2,"totalPages":3,"totalHits":6,
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 4: a filter that could escape the restriction is refused
--- request
POST /indexes/movies/search
{"filter": "year > 2000) OR (year < 3000"}
--- error_code: 400
--- response_body_like: "code":"invalid_search_filter"
--- no_error_log
[error]



=== TEST 5: a node's error is forwarded as it is (filter syntax)
--- request
POST /indexes/movies/search
{"filter": "year >"}
--- error_code: 400
--- response_body chomp
{"message":"Was expecting a value but instead got nothing.\n7:7 year >","code":"invalid_search_filter","type":"invalid_request","link":"https://docs.meilisearch.com/errors#invalid_search_filter"}
--- no_error_log
[error]



=== TEST 6: unknown index: the node's 404
--- request
POST /indexes/ghost/search
{"q": "a"}
--- error_code: 404
--- response_body chomp
{"message":"Index `ghost` not found.","code":"index_not_found","type":"invalid_request","link":"https://docs.meilisearch.com/errors#index_not_found"}
--- no_error_log
[error]



=== TEST 7: not filterable: Miroir's reserved attributes are not listed
--- request
POST /indexes/movies/search
{"filter": "title = dark"}
--- error_code: 400
--- response_body_like: Available filterable attribute patterns are: `genres`, `rating`, `year`\.
--- no_error_log
[error]



=== TEST 8: documents: global window and total, no reserved field
--- request
GET /indexes/movies/documents?offset=3&limit=4&fields=id,title
--- response_body_like: ^\{"results":\[\{"id":[^}]+\},\{[^}]+\},\{[^}]+\},\{[^}]+\}\],"offset":3,"limit":4,"total":12\}$
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 9: documents/fetch with a filter
--- request
POST /indexes/movies/documents/fetch
{"filter": "genres = comedy", "fields": ["id"], "limit": 10}
--- response_body_like: ^\{"results":\[\{"id":\d\},\{"id":\d\},\{"id":\d\}\],"offset":0,"limit":10,"total":3\}$
--- no_error_log
[error]



=== TEST 10: one document, routed to an owner of its shard
--- request
GET /indexes/movies/documents/a-9
--- response_body chomp
{"genres":["drama"],"id":"a-9","rating":6.8,"title":"Knightfall","year":2017}
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 11: a missing document: the owner's 404
--- request
GET /indexes/movies/documents/999
--- error_code: 404
--- response_body_like: "code":"document_not_found"
--- no_error_log
[error]



=== TEST 12: index stats count every document once
--- request
GET /indexes/movies/stats
--- response_body_like: ^\{"numberOfDocuments":12,.*"fieldDistribution":\{"genres":12,"id":12,"rating":12,"title":12,"year":11\}\}$
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 13: global stats
--- request
GET /stats
--- response_body_like: "indexes":\{"movies":\{"numberOfDocuments":12,
--- response_body_unlike: _miroir
--- no_error_log
[error]



=== TEST 14: facet search: counts summed over the shards
--- request
POST /indexes/movies/facet-search
{"facetName": "genres", "facetQuery": "act"}
--- response_body_like: ^\{"facetHits":\[\{"value":"action","count":6\}\],"facetQuery":"act","processingTimeMs":\d+\}$
--- no_error_log
[error]



=== TEST 15: multi-search: one subrequest per node, each query merged
--- request
POST /multi-search
{"queries": [{"indexUid": "movies", "q": "knight", "limit": 1, "attributesToRetrieve": ["id"]}, {"indexUid": "movies", "filter": "year < 2000", "attributesToRetrieve": ["id"]}]}
--- response_body_like: ^\{"results":\[\{"indexUid":"movies","hits":\[\{"id":[^}]+\}\],"query":"knight","processingTimeMs":\d+,"limit":1,"offset":0,"estimatedTotalHits":5,"requestUid":"[^"]+"\},\{"indexUid":"movies","hits":\[\{"id":2\}\],.*"estimatedTotalHits":1,
--- no_error_log
[error]



=== TEST 16: a node drops its answer during the query: asked again elsewhere
--- node_faults: 2 {"dropMidResponse": true, "failRoutes": "search"}
--- request
POST /indexes/movies/search
{"limit": 0}
--- response_body_like: "estimatedTotalHits":12
--- error_log
event=read_failover



=== TEST 17: a node hangs: after node_timeout its shards are read elsewhere
--- node_faults: 2 {"hang": true, "failRoutes": "search"}
--- request
POST /indexes/movies/search
{"q": "dark", "limit": 0}
--- response_body_like: "estimatedTotalHits":4
--- error_log
timed out



=== TEST 18: hedging: a slow node's shards are also asked elsewhere
--- node_faults: 2 {"latencyMs": 400, "failRoutes": "search"}
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node_timeout 2s;
        hedge_after 50ms;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
--- request
POST /indexes/movies/search
{"limit": 0, "facets": ["genres"]}
--- response_body_like: "estimatedTotalHits":12,"facetDistribution":\{"genres":\{"action":6,
--- error_log
event=hedge



=== TEST 19: node 1 killed before the query (RF 2): nothing missing
--- node_faults: 2 {}
--- kill_node: 1
--- request
POST /indexes/movies/search
{"limit": 0, "facets": ["genres"]}
--- response_body_like: "estimatedTotalHits":12,"facetDistribution":\{"genres":\{"action":6,
--- error_log
event=read_failover



=== TEST 20: nodes 1 and 2 down at RF 2: 503 naming the missing shards
--- kill_node: 2
--- request
POST /indexes/movies/search
{"q": "dark"}
--- error_code: 503
--- response_body_like: "code":"miroir_shards_unavailable","type":"system"
--- error_log
event=read_failover
