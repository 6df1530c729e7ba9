# The document write path through nginx against 3 emulated nodes (RF 2):
# every document reaches exactly the owners of its shard, tagged with
# _miroir_shard and its owner list; POST replaces and PUT updates; JSON,
# NDJSON, CSV and gzip payloads; primary key inference and each way it
# fails (a failed Miroir task, no node touched); malformed payloads are a
# synchronous 400; deletions by id, batch, filter and all; the counts of
# the Miroir task are each document once, never once per replica.
# Blocks run in order and share the nodes; a task's result is read after
# "--- wait" has let the nodes process it.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;
use JSON::PP ();

Miroir::Cluster::setup(state => 1, options => 'node_timeout 2s;');

our @Movies = map { { id => $_, title => "Movie $_", year => 1990 + $_ } }
              1 .. 40;
our $MoviesJson = JSON::PP->new->canonical->encode(\@Movies);

no_root_location();
repeat_each(1);
# 43 requests: status, body and two error log checks each; 20 checks on the nodes
plan tests => repeat_each() * 43 * 4 + 20;
no_shuffle();
run_tests();

# ------------------------------------------------------------ the nodes

my $json = JSON::PP->new;

sub node_docs {
    my ($i, $index) = @_;
    my $res = Miroir::Nodes::http_get($i,
                  "/indexes/$index/documents?limit=10000");
    return [] unless $res->{status} == 200;
    return $json->decode($res->{content})->{results};
}

my %where;      # id => [node numbers]
my %tags;       # id => "shard o0 o1" per copy
my $untagged = 0;
for my $i (1 .. 3) {
    for my $d (@{ node_docs($i, 'movies') }) {
        push @{ $where{$d->{id}} }, "n$i";
        $untagged++ unless defined $d->{_miroir_shard}
                           && defined $d->{_miroir_o0}
                           && defined $d->{_miroir_o1};
        push @{ $tags{$d->{id}} },
            join ' ', map { $d->{$_} // '' } qw(_miroir_shard _miroir_o0
                                                 _miroir_o1);
    }
}

is($untagged, 0, 'every copy carries _miroir_shard, _miroir_o0, _miroir_o1');

# 40 added, 100/101 never written, 3 deleted by id/batch, 1 by filter
my @expect = grep { $_ != 5 && $_ != 6 && $_ != 7 && $_ != 40 } 1 .. 40;
is_deeply([sort { $a <=> $b } keys %where], \@expect,
          'the nodes hold exactly the documents left');

my ($bad_rf, $bad_owner, $bad_tags) = (0, 0, 0);
for my $id (keys %where) {
    my @n = sort @{ $where{$id} };
    $bad_rf++ unless @n == 2;
    my %t = map { $_ => 1 } @{ $tags{$id} };
    $bad_tags++ unless keys %t == 1;
    my (undef, $o0, $o1) = split ' ', $tags{$id}[0];
    $bad_owner++ unless join(' ', sort ($o0, $o1)) eq join(' ', @n);
}
is($bad_rf, 0, 'each document is on exactly 2 nodes (RF 2)');
is($bad_tags, 0, 'every copy of a document has the same tags');
is($bad_owner, 0, 'each document is on the nodes its _miroir_o* fields name');

# the shard is the shard of the id: same shard for the same owners
my %owners_of;
my $bad_shard = 0;
for my $id (keys %tags) {
    my ($s, $o0, $o1) = split ' ', $tags{$id}[0];
    $bad_shard++ if defined $owners_of{$s} && $owners_of{$s} ne "$o0 $o1";
    $owners_of{$s} = "$o0 $o1";
}
is($bad_shard, 0, 'a shard always has the same owners');

my ($d1) = grep { $_->{id} == 1 } map { @{ node_docs($_, 'movies') } } 1 .. 3;
is($d1->{title}, 'Movie 1', 'PUT kept the fields it did not name');
is($d1->{rating}, 8, 'PUT added the new field');

my ($d2) = grep { $_->{id} == 2 } map { @{ node_docs($_, 'movies') } } 1 .. 3;
ok(!exists $d2->{title}, 'POST replaced the whole document');
is($d2->{name}, 'replaced', 'POST stored the new document');

# NDJSON and CSV reached the nodes too, inferred keys set on every node
my @nd = map { @{ node_docs($_, 'shop') } } 1 .. 3;
is(scalar @nd, 6, 'NDJSON: 3 documents x RF 2 copies');
my @csv = map { @{ node_docs($_, 'books') } } 1 .. 3;
is(scalar @csv, 4, 'CSV: 2 rows x RF 2 copies');
my ($dune) = grep { $_->{isbn} eq '111' } @csv;
is($dune->{pages}, 412, 'CSV typed column converted');

for my $i (1 .. 3) {
    my $res = Miroir::Nodes::http_get($i, '/indexes/shop');
    my $pk = $res->{status} == 200 ? $json->decode($res->{content})->{primaryKey}
                                   : 'none';
    is($pk, 'sku_id', "node $i has the inferred primary key");
}

my @gz = map { @{ node_docs($_, 'zipped') } } 1 .. 3;
is(scalar @gz, 4, 'gzip payload decoded: 2 documents x 2 copies');

for my $i (1 .. 3) {
    my $res = Miroir::Nodes::http_get($i,
                  '/indexes/movies/settings/filterable-attributes');
    like($res->{content}, qr/"_miroir_shard".*"_miroir_o0".*"_miroir_o1"/,
         "node $i keeps Miroir's fields filterable");
}

__DATA__

=== TEST 1: create an index, add 40 documents, the task counts each once
--- request eval
[
"POST /indexes\n{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
"POST /indexes/movies/documents\n$::MoviesJson",
"GET /tasks/1",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"taskUid":0,"indexUid":"movies","status":"enqueued","type":"indexCreation","enqueuedAt":"[^"]+"\}$/,
qr/^\{"taskUid":1,"indexUid":"movies","status":"enqueued","type":"documentAdditionOrUpdate","enqueuedAt":"[^"]+"\}$/,
qr/"uid":1,.*"status":"succeeded","type":"documentAdditionOrUpdate",.*"details":\{"receivedDocuments":40,"indexedDocuments":40\},"error":null/,
]
--- error_code eval
[202, 202, 200]
--- no_error_log
[error]
[alert]



=== TEST 2: PUT updates (keeps other fields), POST replaces
--- request eval
[
"PUT /indexes/movies/documents\n[{\"id\":1,\"rating\":8}]",
"POST /indexes/movies/documents\n[{\"id\":2,\"name\":\"replaced\"}]",
"GET /tasks/3",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":2,.*"type":"documentAdditionOrUpdate"/,
qr/"taskUid":3,/,
qr/"status":"succeeded".*"receivedDocuments":1,"indexedDocuments":1/,
]
--- error_code eval
[202, 202, 200]
--- no_error_log
[error]
[alert]



=== TEST 3: NDJSON with an inferred primary key
--- request eval
[
"POST /indexes/shop/documents\n{\"sku_id\":\"a-1\",\"n\":1}\n{\"sku_id\":\"b-2\",\"n\":2}\n{\"sku_id\":\"c-3\",\"n\":3}\n",
"GET /tasks/4",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/x-ndjson
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":4,"indexUid":"shop"/,
qr/"status":"succeeded".*"receivedDocuments":3,"indexedDocuments":3/,
]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]



=== TEST 4: CSV with typed columns and a primaryKey parameter
--- request eval
[
"POST /indexes/books/documents?primaryKey=isbn\nisbn,title:string,pages:number\n111,Dune,412\n222,Emma,\n",
"GET /tasks/5",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: text/csv
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":5,"indexUid":"books"/,
qr/"status":"succeeded".*"receivedDocuments":2,"indexedDocuments":2/,
]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]



=== TEST 5: primary key inference fails: no candidate, several candidates
--- request eval
[
"POST /indexes/inf2/documents\n[{\"name\":\"a\"}]",
"POST /indexes/inf3/documents\n[{\"product_id\":1,\"user_id\":2}]",
"GET /tasks/6",
"GET /tasks/7",
"GET /indexes/inf3",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":6,/,
qr/"taskUid":7,/,
qr/"status":"failed".*"details":\{"receivedDocuments":1,"indexedDocuments":0\},"error":\{"message":"The primary key inference failed as the engine did not find any field ending with `id` in its name\. Please specify the primary key manually using the `primaryKey` query parameter\.","code":"index_primary_key_no_candidate_found"/,
qr/"status":"failed".*"code":"index_primary_key_multiple_candidates_found"/,
qr/^\{"uid":"inf3",.*"primaryKey":null\}$/,
]
--- error_code eval
[202, 202, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 6: an invalid id in the middle: failed task, no node touched
--- request eval
[
"POST /indexes/movies/documents\n[{\"id\":100},{\"id\":\"bad id\"},{\"id\":101}]",
"POST /indexes/movies/documents\n[{\"id\":100},{\"title\":\"no id\"},{\"id\":101}]",
"POST /indexes/movies/documents?primaryKey=other\n[{\"id\":100,\"other\":1}]",
"GET /tasks/8",
"GET /tasks/9",
"GET /tasks/10",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":8,/,
qr/"taskUid":9,/,
qr/"taskUid":10,/,
qr/"status":"failed".*"receivedDocuments":3,"indexedDocuments":0\},"error":\{"message":"Document identifier `\\"bad id\\"` is invalid\..*"code":"invalid_document_id"/,
qr/"status":"failed".*"receivedDocuments":3,"indexedDocuments":0\},"error":\{"message":"Document doesn't have a `id` attribute: .*"code":"missing_document_id"/,
qr/"status":"failed".*"error":\{"message":"Index already has a primary key: `id`\.","code":"index_primary_key_already_exists"/,
]
--- error_code eval
[202, 202, 202, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 7: synchronous errors: malformed, empty, content types
--- request eval
[
"POST /indexes/movies/documents\n[{\"id\": 1,",
"POST /indexes/movies/documents\n[1,2]",
"POST /indexes/movies/documents?csvDelimiter=%3B\n[]",
"POST /indexes/movies/documents\n[{\"id\":1,\"_miroir_shard\":3}]",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like eval
[
qr/^\{"message":"The `json` payload provided is malformed\. `Couldn't serialize document value: EOF while parsing an object at line 1 column 10`\.","code":"malformed_payload","type":"invalid_request"/,
qr/"code":"malformed_payload"/,
qr/^\{"message":"The Content-Type `application\/json` does not support the use of a csv delimiter\. The csv delimiter can only be used with the Content-Type `text\/csv`\.","code":"invalid_content_type"/,
qr/"code":"miroir_reserved_field"/,
]
--- error_code eval
[400, 400, 415, 400]
--- no_error_log
[error]
[alert]



=== TEST 8: missing and wrong Content-Type
--- request eval
[
"POST /indexes/movies/documents\n[]",
]
--- more_headers eval
[
"Authorization: Bearer s3cret",
]
--- response_body_like eval
[
qr/^\{"message":"A Content-Type header is missing\. Accepted values for the Content-Type header are: `application\/json`, `application\/x-ndjson`, `text\/csv`","code":"missing_content_type"/,
]
--- error_code eval
[415]
--- no_error_log
[error]
[alert]



=== TEST 9: gzip-encoded payload
--- request eval
use IO::Compress::Gzip qw(gzip);
my $in = '[{"id":"z1","v":1},{"id":"z2","v":2}]';
my $out;
gzip(\$in => \$out);
["POST /indexes/zipped/documents\n$out", "GET /tasks/11"]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
Content-Encoding: gzip
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":11,"indexUid":"zipped"/,
qr/"status":"succeeded".*"receivedDocuments":2,"indexedDocuments":2/,
]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]



=== TEST 10: deletions: one, batch, by filter; counted once
--- request eval
[
"DELETE /indexes/movies/documents/5",
"POST /indexes/movies/documents/delete-batch\n[6, \"7\", 999]",
"PATCH /indexes/movies/settings\n{\"filterableAttributes\":[\"year\"]}",
"POST /indexes/movies/documents/delete\n{\"filter\":\"year = 2030\"}",
"GET /tasks/12",
"GET /tasks/13",
"GET /tasks/15",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":12,"indexUid":"movies","status":"enqueued","type":"documentDeletion"/,
qr/"taskUid":13,/,
qr/"taskUid":14,"indexUid":"movies","status":"enqueued","type":"settingsUpdate"/,
qr/"taskUid":15,/,
qr/"status":"succeeded".*"details":\{"providedIds":1,"deletedDocuments":1,"originalFilter":null\}/,
qr/"status":"succeeded".*"details":\{"providedIds":3,"deletedDocuments":2,"originalFilter":null\}/,
qr/"status":"succeeded".*"details":\{"providedIds":0,"deletedDocuments":1,"originalFilter":"\\"year = 2030\\""\}/,
]
--- error_code eval
[202, 202, 202, 202, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 11: delete all documents of an index
--- request eval
[
"DELETE /indexes/zipped/documents",
"GET /tasks/16",
"POST /indexes/zipped/documents\n[{\"id\":\"z1\"},{\"id\":\"z2\"}]",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":16,/,
qr/"status":"succeeded".*"details":\{"deletedDocuments":2\}/,
qr/"taskUid":17,/,
]
--- error_code eval
[202, 200, 202]
--- no_error_log
[error]
[alert]



=== TEST 12: node errors never name Miroir's fields
--- request eval
[
"POST /indexes/zipped/documents/delete\n{\"filter\":\"v = 1\"}",
"POST /indexes/movies/documents/delete\n{\"filter\":\"v = 1\"}",
"GET /tasks/18",
"GET /tasks/19",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":18,/,
qr/"taskUid":19,/,
qr/"status":"failed".*"error":\{"message":"Index `zipped`: Attribute `v` is not filterable\. This index does not have configured filterable attributes\.\\n1:2 v = 1","code":"invalid_document_filter"/,
qr/"status":"failed".*"error":\{"message":"Index `movies`: Attribute `v` is not filterable\. Available filterable attribute patterns are: `year`\.\\n1:2 v = 1","code":"invalid_document_filter"/,
]
--- error_code eval
[202, 202, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 13: payload over max_payload: 413 before anything is sent
--- http_config
    miroir_zone miroir 4m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        max_payload 2000000;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
--- request eval
"POST /indexes/movies/documents\n[" . ('{"id":1},' x 250000) . '{"id":2}]'
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like: ^\{"message":"The provided payload reached the size limit\. The maximum accepted payload size is 2 MB\.","code":"payload_too_large","type":"invalid_request"
--- error_code: 413
--- no_error_log
[error]
[alert]
