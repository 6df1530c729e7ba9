# distinct across shards: each node dedupes only its own documents, the
# merge dedupes across nodes (miroir_merge_params_t.distinct_attr).  A
# 3-node RF 2 cluster loaded through Miroir with 40 documents over 5
# genres: a search with `distinct` answers each genre once, also when the
# client's attributesToRetrieve leaves the attribute out (Miroir asks for
# it and strips it), also with the index's distinctAttribute setting
# instead of the parameter, and with a node down.  See docs/differences.md.

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_cluster main {
        shards 16;
        replication 2;
        master_key "s3cret";
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    return HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

sub task_ok {
    my ($res) = @_;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 0 unless defined $uid;
    for (1 .. 300) {
        my $c = miroir('GET', "/tasks/$uid")->{content} // '';
        return $1 eq 'succeeded' if $c =~ /"status":"(succeeded|failed|canceled)"/;
        select undef, undef, undef, 0.03;
    }
    return 0;
}

# the genres of a search's hits, and its total
sub search {
    my ($body) = @_;
    my $res = miroir('POST', '/indexes/movies/search', $json->encode($body));
    return ("status $res->{status} $res->{content}") if $res->{status} != 200;
    my $r = $json->decode($res->{content});
    return (join(',', map { $_->{genre} // '-' } @{ $r->{hits} }),
            $r->{estimatedTotalHits}, $r->{hits});
}

sub run_distinct {
    my @docs = map { { id => $_, title => "movie $_", genre => 'g' . ($_ % 5),
                       rank => $_ } } 1 .. 40;
    ok(task_ok(miroir('PATCH', '/indexes/movies/settings',
                      '{"filterableAttributes":["genre"],'
                      . '"sortableAttributes":["rank"]}')),
       'settings')
        if task_ok(miroir('POST', '/indexes', '{"uid":"movies","primaryKey":"id"}'));
    ok(task_ok(miroir('POST', '/indexes/movies/documents',
                      $json->encode(\@docs))), '40 documents');

    my ($g, $total, $hits) = search({ q => '', distinct => 'genre',
                                      sort => ['rank:asc'], limit => 100 });
    is($g, 'g1,g2,g3,g4,g0', 'distinct: each genre once, the best hit');
    is($total, 5, 'distinct: total counts each genre once');
    is(join(',', map { $_->{id} } @$hits), '1,2,3,4,5', 'the best hits');

    ($g, $total, $hits) = search({ q => '', distinct => 'genre',
                                   sort => ['rank:asc'], limit => 2,
                                   offset => 1,
                                   attributesToRetrieve => ['id'] });
    is(join(',', map { $_->{id} } @$hits), '2,3',
       'attributesToRetrieve without the attribute: still distinct');
    is(scalar(grep { exists $_->{genre} } @$hits), 0,
       'the added attribute is not in the answer');
    # a window shorter than the nodes' lists: the total is the nodes'
    # totals minus the duplicates seen, never below the exact count
    ok($total >= 5 && $total <= 3 * 5, "a bounded total ($total)");

    ($g, $total) = search({ q => '', limit => 100 });
    is($total, 40, 'without distinct: every document');

    my $res = miroir('GET', '/indexes/movies/search?q=&distinct=genre'
                            . '&sort=rank:asc&limit=100');
    my $r = eval { $json->decode($res->{content}) } || {};
    is(join(',', map { $_->{genre} } @{ $r->{hits} || [] })
       . " $r->{estimatedTotalHits}", 'g1,g2,g3,g4,g0 5', 'GET: distinct');

    ok(task_ok(miroir('PATCH', '/indexes/movies/settings',
                      '{"distinctAttribute":"genre"}')),
       'distinctAttribute set');
    for my $n (1 .. 2) {
        ($g, $total) = search({ q => '', sort => ['rank:asc'], limit => 100 });
        is("$g $total", 'g1,g2,g3,g4,g0 5',
           "distinctAttribute setting: each genre once ($n)");
    }

    Miroir::Nodes::kill_node(2);
    ($g, $total) = search({ q => '', distinct => 'genre',
                            sort => ['rank:asc'], limit => 100 });
    is("$g $total", 'g1,g2,g3,g4,g0 5', 'a node down: still distinct');
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location / { miroir main; }\n");
    run_distinct() if $block->name =~ /TEST 2:/;
    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 2 + 2 + 14;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: up
--- request
GET /health
--- response_body_like: "status"



=== TEST 2: distinct searches (run by the preprocessor), then health
--- request
GET /health
--- response_body_like: "status"
