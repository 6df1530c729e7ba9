# The bad input matrix: malformed and hostile requests to every route.
# Each request goes to Miroir (3 nodes, RF 2) and, unchanged, to a single
# emulated node holding the same data (the reference, which replays the
# golden transcripts of a real Meilisearch): the status and the error code
# must be the same, and so must the message unless the case says it may
# differ.  Afterwards no node holds a document of a refused write, every
# document of the accepted ones is on exactly its owners, and the nginx
# error log shows no crashed worker, no [alert] and no [crit].
#
# Cases that only Miroir can get (its own limits, filter injection against
# the shard restriction, absurd numbers) have their expectation written in
# the table instead.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use Miroir::Nodes;
use Miroir::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set'
    unless Miroir::Nginx::module_path();

my $nodekey = 'node-key-0123456789';
my $master  = 's3cret';

Miroir::Nodes::start(count => 4, master_key => $nodekey);

my $base = Miroir::Nginx::start(workers => 2, http => <<"_EOC_");
    large_client_header_buffers 4 8k;
    miroir_zone miroir 2m;
    miroir_cluster main {
        shards 128; replication 2; master_key "$master";
        max_payload 1m;
        node n1 $ENV{TEST_NGINX_NODE1} key=$nodekey;
        node n2 $ENV{TEST_NGINX_NODE2} key=$nodekey;
        node n3 $ENV{TEST_NGINX_NODE3} key=$nodekey;
    }
    server {
        listen 127.0.0.1:\$PORT;
        client_body_timeout 2s;
        location / { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
_EOC_

my $ref = "http://$ENV{TEST_NGINX_NODE4}";
my $http = HTTP::Tiny->new(timeout => 10);

sub call {
    my ($url, $key, $method, $path, $ctype, $body) = @_;
    my %h = (Authorization => "Bearer $key");
    $h{'Content-Type'} = $ctype if defined $ctype;
    my $res = $http->request($method, "$url$path",
                             { headers => \%h,
                               (defined $body ? (content => $body) : ()) });
    return $res;
}

sub miroir { call($base, $master, @_) }
sub single { call($ref, $nodekey, @_) }

sub code_of {
    my ($res) = @_;
    return $res->{content} =~ /"code":"([^"]+)"/ ? $1 : '';
}

sub msg_of {
    my ($res) = @_;
    return $res->{content} =~ /"message":"((?:[^"\\]|\\.)*)"/ ? $1 : '';
}

sub wait_task {
    my ($url, $key, $uid) = @_;
    for (1 .. 200) {
        my $t = call($url, $key, 'GET', "/tasks/$uid");
        return $t->{content} if $t->{content} =~ /"status":"(succeeded|failed|canceled)"/;
        select(undef, undef, undef, 0.05);
    }
    return '';
}

sub both_write {
    my @a = @_;
    for my $pair ([\&miroir, $base, $master], [\&single, $ref, $nodekey]) {
        my ($f, $url, $key) = @$pair;
        my $res = $f->(@a);
        my ($uid) = $res->{content} =~ /"taskUid":(\d+)/;
        die "no task for @a[0,1]: $res->{content}" unless defined $uid;
        wait_task($url, $key, $uid);
    }
}

# ------------------------------------------------------------------ data

both_write('POST', '/indexes', 'application/json',
           '{"uid":"movies","primaryKey":"id"}');
both_write('PATCH', '/indexes/movies/settings', 'application/json',
           '{"filterableAttributes":["genre","year"],"sortableAttributes":["year"]}');
my @docs = map { sprintf '{"id":%d,"title":"Movie %d","genre":"%s","year":%d}',
                 $_, $_, (qw(drama comedy horror))[$_ % 3], 1990 + $_ % 30 } 1 .. 60;
both_write('POST', '/indexes/movies/documents', 'application/json',
           '[' . join(',', @docs) . ']');

# ------------------------------------------------------------------ matrix

my $deep_ok = '[{"id":1000,"a":' . ('[' x 100) . (']' x 100) . '}]';
my $deep_bad = '[{"id":1001,"a":' . ('[' x 100000) . (']' x 100000) . '}]';
my $bad_utf8 = "[{\"id\":1002,\"title\":\"\xff\xfe\"}]";

# method, path, content type, body, message may differ?
my @same = (
    # documents: payload syntax and content types
    ['POST', '/indexes/movies/documents', 'application/json', '[{"id":2000,', 0],
    ['POST', '/indexes/movies/documents', 'application/json', '', 0],
    ['POST', '/indexes/movies/documents', 'application/json', '[1,2]', 0],
    ['POST', '/indexes/movies/documents', 'application/json', '"text"', 1],
    ['POST', '/indexes/movies/documents', 'application/x-ndjson', "{\"id\":2001}\n{\"id\":", 1],
    ['POST', '/indexes/movies/documents', 'text/csv', "id:number,title\nabc,x\n", 0],
    ['POST', '/indexes/movies/documents', 'text/plain', '[{"id":2002}]', 0],
    ['POST', '/indexes/movies/documents', undef, '[{"id":2003}]', 0],
    ['POST', '/indexes/movies/documents?csvDelimiter=;', 'application/json', '[{"id":2004}]', 0],
    ['POST', '/indexes/movies/documents', 'application/json', $bad_utf8, 1],
    ['PUT',  '/indexes/movies/documents', 'application/json', '{"id":', 1],
    ['POST', '/indexes/movies/documents?unknown=1', 'application/json', '[{"id":2005}]', 0],
    # document routes
    ['POST', '/indexes/movies/documents/delete-batch', 'application/json', '{"id":1}', 1],
    ['POST', '/indexes/movies/documents/delete', 'application/json', '{}', 0],
    ['POST', '/indexes/movies/documents/delete', 'application/json', '{"filter":"year >"}', 1],
    ['POST', '/indexes/movies/documents/fetch', 'application/json', '{"filter":"nope = 1"}', 1],
    ['POST', '/indexes/movies/documents/fetch', 'application/json', '{"limit":"x"}', 0],
    ['GET',  '/indexes/movies/documents?limit=abc', undef, undef, 0],
    ['GET',  '/indexes/movies/documents?offset=-1', undef, undef, 0],
    ['GET',  '/indexes/movies/documents?nope=1', undef, undef, 0],
    # indexes and settings
    ['POST', '/indexes', 'application/json', '{"uid":"bad uid!"}', 0],
    ['POST', '/indexes', 'application/json', '{"primaryKey":"id"}', 0],
    ['POST', '/indexes', 'application/json', '{"uid":"x","extra":1}', 0],
    ['POST', '/indexes', 'text/plain', '{"uid":"x"}', 0],
    ['POST', '/indexes', 'application/json', '{"uid":', 1],
    ['GET',  '/indexes?limit=x', undef, undef, 0],
    ['PATCH', '/indexes/movies/settings', 'application/json', '{"rankingRules":["nope"]}', 0],
    ['PATCH', '/indexes/movies/settings', 'application/json', '{"filterableAttributes":1}', 0],
    ['PATCH', '/indexes/movies/settings', 'application/json', '{"unknownSetting":1}', 1],
    ['PATCH', '/indexes/movies/settings', 'application/json', '{', 1],
    ['PUT',   '/indexes/movies/settings/sortable-attributes', 'application/json', '"year"', 0],
    ['GET',   '/indexes/ghost/settings', undef, undef, 0],
    # search: every parameter with a wrong type
    map({ ['POST', '/indexes/movies/search', 'application/json', $_, 0] }
        '{"q":1}', '{"limit":"x"}', '{"limit":-1}', '{"offset":"x"}',
        '{"page":"x"}', '{"hitsPerPage":-1}', '{"filter":1}',
        '{"filter":"year >"}', '{"filter":"nope = 1"}', '{"sort":"year:asc"}',
        '{"sort":["nope:asc"]}', '{"facets":"genre"}', '{"facets":["nope"]}',
        '{"attributesToRetrieve":1}', '{"attributesToHighlight":1}',
        '{"attributesToCrop":1}', '{"cropLength":"x"}', '{"highlightPreTag":1}',
        '{"showMatchesPosition":"yes"}', '{"showRankingScore":"yes"}',
        '{"showRankingScoreDetails":1}', '{"matchingStrategy":"most"}',
        '{"rankingScoreThreshold":2}', '{"distinct":1}',
        '{"attributesToSearchOn":["nope"]}', '{"unknown":1}', '{'),
    ['POST', '/indexes/movies/search', 'text/plain', '{"q":"a"}', 0],
    ['POST', '/indexes/movies/search', undef, '{"q":"a"}', 0],
    ['POST', '/indexes/ghost/search', 'application/json', '{"q":"a"}', 0],
    ['GET',  '/indexes/movies/search?limit=x', undef, undef, 0],
    ['GET',  '/indexes/movies/search?unknown=1', undef, undef, 0],
    ['GET',  '/indexes/movies/search?showRankingScore=maybe', undef, undef, 0],
    ['POST', '/indexes/movies/facet-search', 'application/json', '{"facetQuery":"d"}', 0],
    ['POST', '/indexes/movies/facet-search', 'application/json', '{"facetName":"title"}', 1],
    ['POST', '/multi-search', 'application/json', '{"queries":1}', 1],
    ['POST', '/multi-search', 'application/json', '{"queries":[{"indexUid":"ghost"}]}', 1],
    ['POST', '/multi-search', 'application/json', '{"queries":[{"indexUid":"movies","limit":"x"}]}', 1],
    # tasks
    ['GET',  '/tasks?statuses=nope', undef, undef, 0],
    ['GET',  '/tasks?limit=x', undef, undef, 0],
    ['GET',  '/tasks/abc', undef, undef, 0],
    ['GET',  '/tasks/999999', undef, undef, 0],
    ['DELETE', '/tasks', undef, undef, 0],
    ['POST', '/tasks/cancel', undef, undef, 0],
    # routes
    ['GET',  '/nope', undef, undef, 0],
);

for my $c (@same) {
    my ($method, $path, $ctype, $body, $msg_may_differ) = @$c;
    my $name = "$method $path" . (defined $body ? ' ' . substr($body, 0, 40) : '');
    $name =~ s/[^\x20-\x7e]/?/g;
    my $m = miroir($method, $path, $ctype, $body);
    my $s = single($method, $path, $ctype, $body);
    is($m->{status}, $s->{status}, "$name: status like one node ($s->{status})")
        or diag("miroir: $m->{content}\nnode:   $s->{content}");
    is(code_of($m), code_of($s), "$name: code like one node (" . code_of($s) . ")");
    if (!$msg_may_differ) {
        is(msg_of($m), msg_of($s), "$name: message like one node");
    }
    unlike($m->{content}, qr/_miroir_|node-key/, "$name: nothing internal leaks");
}

# ------------------------------------------------------------------ Miroir only

# deep nesting: accepted when shallow, refused (never a crash) when absurd
for my $case ([$deep_ok, 'nesting 100'], [$deep_bad, 'nesting 100000']) {
    my $m = miroir('POST', '/indexes/movies/documents', 'application/json', $case->[0]);
    ok($m->{status} == 202 || $m->{status} == 400,
       "$case->[1]: answered ($m->{status})");
    if ($m->{status} == 202) {
        my ($uid) = $m->{content} =~ /"taskUid":(\d+)/;
        wait_task($base, $master, $uid);
    }
}

# invalid ids: a 202 whose task fails, nothing reaches a node
for my $id ('"a b"', '1.5', 'true', '""') {
    my $m = miroir('POST', '/indexes/movies/documents', 'application/json',
                   "[{\"id\":3000},{\"id\":$id}]");
    is($m->{status}, 202, "invalid id $id: 202");
    my ($uid) = $m->{content} =~ /"taskUid":(\d+)/;
    like(wait_task($base, $master, $uid),
         qr/"status":"failed".*"code":"invalid_document_id"/s,
         "invalid id $id: the task fails with invalid_document_id");
}

# payload over max_payload (1m here): Meilisearch's error, nothing written
{
    my $big = '[' . join(',', map { "{\"id\":" . (5000 + $_) . ",\"t\":\"" . ('x' x 200) . '"}' } 1 .. 6000) . ']';
    my $m = miroir('POST', '/indexes/movies/documents', 'application/json', $big);
    is($m->{status}, 413, 'payload over max_payload: 413');
    is(code_of($m), 'payload_too_large', 'payload over max_payload: payload_too_large');
}

# filter injection: a user filter can never widen or escape the restriction
for my $f ('genre = drama) OR (year > 0', 'genre = drama OR (year > 0',
           '\\"genre = drama', 'year > 0) OR _miroir_shard EXISTS OR (year > 0') {
    my $m = miroir('POST', '/indexes/movies/search', 'application/json',
                   qq({"filter":"$f","limit":1000}));
    is($m->{status}, 400, "filter injection [$f]: refused");
    is(code_of($m), 'invalid_search_filter', "filter injection [$f]: invalid_search_filter");
}
{
    my $m = miroir('POST', '/indexes/movies/search', 'application/json',
                   '{"filter":["year > 0", ["genre = drama", "genre = comedy", "genre = horror"]],"limit":1000}');
    my @ids = $m->{content} =~ /"id":(\d+)/g;
    my %seen;
    my $dups = grep { $seen{$_}++ } @ids;
    is($dups, 0, 'array filter: no document answered twice');
    is(scalar(@ids), 60, 'array filter: every matching document once (60)');
}

# absurd numbers
for my $q ('{"offset":18446744073709551615,"limit":20}',
           '{"offset":0,"limit":4294967295}',
           '{"page":18446744073709551615,"hitsPerPage":20}') {
    my $m = miroir('POST', '/indexes/movies/search', 'application/json', $q);
    my $s = single('POST', '/indexes/movies/search', 'application/json', $q);
    is($m->{status}, $s->{status}, "absurd paging $q: status like one node");
}

# oversized headers: nginx refuses them itself
{
    my $m = $http->request('GET', "$base/indexes/movies/search",
                           { headers => { Authorization => "Bearer $master",
                                          'X-Big' => 'x' x 20000 } });
    ok($m->{status} == 400 || $m->{status} == 494, "oversized header: refused ($m->{status})");
}

# a slow client that never sends its whole body: nothing is written
{
    my $sock = IO::Socket::INET->new(PeerAddr => $base =~ s{http://}{}r) or die;
    print $sock "POST /indexes/movies/documents HTTP/1.1\r\nHost: x\r\n"
              . "Authorization: Bearer $master\r\nContent-Type: application/json\r\n"
              . "Content-Length: 1000\r\n\r\n[{\"id\":4000,";
    sleep 3;   # client_body_timeout 2s
    my $answer = '';
    $sock->recv($answer, 4096);
    like($answer, qr{^HTTP/1\.1 408|^$}, 'slow client: timed out (408 or closed)');
    close $sock;
}

# ------------------------------------------------------------------ the nodes

my $expect = 60 + 1;    # the 60 documents and nesting 100 (a batch with an invalid id fails whole)
for my $i (1 .. 3) {
    my $r = Miroir::Nodes::http_post($i, '/indexes/movies/documents/fetch',
                                     '{"limit":10000,"fields":["id"]}');
    my @ids = $r->{content} =~ /"id":(\d+)/g;
    my @bad = grep { $_ >= 2000 } @ids;
    is(scalar(@bad), 0, "node $i holds no document of a refused write")
        or diag("@bad");
}
my $all = miroir('POST', '/indexes/movies/documents/fetch', 'application/json',
                 '{"limit":10000,"fields":["id"]}');
my @ids = $all->{content} =~ /"id":(\d+)/g;
is(scalar(@ids), $expect, "the cluster holds exactly the accepted documents ($expect)");

my $log = Miroir::Nginx::error_log();
unlike($log, qr/exited on signal|\[alert\]|\[crit\]|\[emerg\]/, 'no crashed worker, no alert')
    or diag(join "\n", grep { /signal|alert|crit|emerg/ } split /\n/, $log);

done_testing();
