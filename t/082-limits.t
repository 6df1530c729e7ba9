# max_response: the largest node answer Miroir holds in memory, and the
# largest total of the answers to one client request (one fan-out).  Two
# emulated nodes hold 100 documents of about 1.5 KB, loaded through
# Miroir.  Cluster "main" (both nodes, max_response 64k) answers a small
# search, and refuses with 502 miroir_response_too_large a search whose
# two node answers (about 40 KB each) fit one by one but not together.
# Cluster "one" (node 1 alone, max_response 32k, served on a second port)
# refuses a single node answer above its limit, for a search and for a
# documents list.  Such answers are not node failures: after several of
# them the nodes are still up and small searches still work, and no worker
# crashed.  Then nginx -t refuses a bad value and a duplicate line.

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;

Miroir::Nodes::start(count => 2, master_key => 'node-key-0123456789');

# the second Miroir server, for cluster "one"
{
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    $ENV{TEST_NGINX_ONE_PORT} = $s->sockport;
    close $s;
}

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_cluster main {
        shards 16;
        master_key "s3cret";
        max_response 64k;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
    }
    miroir_cluster one {
        shards 16;
        master_key "s3cret";
        max_response 32k;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_ONE_PORT;
        location / { miroir one; }
    }
_EOC_

my $json = JSON::PP->new->canonical;

sub miroir {
    my ($method, $path, $body, $port) = @_;
    $port //= $ENV{TEST_NGINX_SERVER_PORT} || server_port();
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
        return $1 eq 'succeeded'
            if $c =~ /"status":"(succeeded|failed|canceled)"/;
        select undef, undef, undef, 0.03;
    }
    return 0;
}

# "status code type" of an answer, and its message
sub outcome {
    my ($res) = @_;
    my $e = eval { $json->decode($res->{content}) } || {};
    return ("$res->{status} " . ($e->{code} // '-') . ' ' . ($e->{type} // '-'),
            $e->{message} // '', $e);
}

sub run_limits {
    my $one = $ENV{TEST_NGINX_ONE_PORT};
    my $text = 'lorem ipsum ' x 125;        # 1,500 bytes

    ok(task_ok(miroir('POST', '/indexes',
                      '{"uid":"movies","primaryKey":"id"}')), 'index');
    ok(task_ok(miroir('POST', '/indexes/movies/documents',
                      $json->encode([map { { id => $_, title => "movie $_",
                                             text => $text } } 1 .. 100]))),
       '100 documents');

    # both nodes must hold at least 25 of them for the sizes below
    my $res = miroir('GET', '/indexes/movies/documents?limit=0', undef, $one);
    my $n1 = eval { $json->decode($res->{content})->{total} } // -1;
    ok($n1 >= 25 && $n1 <= 75, "node 1 holds $n1 documents");

    my $small = '{"q":"","limit":3}';
    $res = miroir('POST', '/indexes/movies/search', $small);
    is($res->{status}, 200, 'a small search: 200');
    is(scalar @{ (eval { $json->decode($res->{content}) } || {})->{hits}
                 || [] }, 3, 'a small search: 3 hits');

    # 25 hits of ~1.6 KB per node: each answer < 64k, both > 64k
    my ($what, $msg) = outcome(miroir('POST', '/indexes/movies/search',
                                      '{"q":"","limit":25}'));
    is($what, '502 miroir_response_too_large system',
       'answers too large together: 502 miroir_response_too_large');
    like($msg, qr/`max_response` of 65536 bytes of cluster `main`/,
         'the message names the limit');

    # one node, 32k: one answer of 25 hits is too large
    ($what, $msg) = outcome(miroir('POST', '/indexes/movies/search',
                                   '{"q":"","limit":25}', $one));
    is($what, '502 miroir_response_too_large system',
       'one answer too large: 502');
    like($msg, qr/node `n1` is larger than the `max_response` of 32768 bytes/,
         'the message names the node and the limit');

    ($what) = outcome(miroir('GET', '/indexes/movies/documents?limit=40',
                             undef, $one));
    is($what, '502 miroir_response_too_large system',
       'a documents list too large: 502');

    ($what) = outcome(miroir('GET', '/indexes/movies/search?q=&limit=40',
                             undef, $one));
    is($what, '502 miroir_response_too_large system', 'a GET search: 502');

    # not node failures: the nodes are not marked down
    $res = miroir('POST', '/indexes/movies/search', $small, $one);
    is($res->{status}, 200, 'after 3 refused answers: a small search works');
    $res = miroir('POST', '/indexes/movies/search', $small);
    is($res->{status}, 200, 'and through both nodes');
    ($what) = outcome(miroir('POST', '/indexes/movies/search',
                             '{"q":"","limit":25}'));
    is($what, '502 miroir_response_too_large system',
       'the same search again: the same error');

    # the error log so far: each refusal said why, no worker crashed
    open my $fh, '<', $Test::Nginx::Util::ErrLogFile or die "error log: $!";
    my @log = <$fh>;
    close $fh;
    ok(scalar(grep { /answer is larger than max_response/ } @log) >= 5,
       'each refused answer is logged');
    ok(scalar(grep { /max_response \(65536 bytes, [1-9]\d* held by the other/ }
              @log), 'the 64k refusal counted the other node\'s answer');
    is(scalar(grep { /\[alert\]|exited on signal/ } @log), 0,
       'no worker crashed');
}

add_block_preprocessor(sub {
    my $block = shift;
    return $block if defined $block->http_config;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location / { miroir main; }\n");
    run_limits() if $block->name =~ /TEST 2:/;
    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 2 + 4 + 17 + 3;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: up
--- request
GET /health
--- response_body_like: "status"



=== TEST 2: the limits (run by the preprocessor), then health, no crash
--- request
GET /health
--- response_body_like: "available"
--- no_error_log
[alert]
exited on signal



=== TEST 3: max_response 0 is refused
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        max_response 0;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "0" in "max_response" of miroir_cluster "main"



=== TEST 4: a size nginx cannot read is refused
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        max_response 12q;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
invalid value "12q" in "max_response" of miroir_cluster "main"



=== TEST 5: max_response twice is refused
--- http_config
    miroir_zone miroir 1m;
    miroir_cluster main {
        max_response 1m;
        max_response 2m;
        node n1 127.0.0.1:1971;
    }
--- config
    location / { miroir main; }
--- must_die
--- error_log
"max_response" is duplicate in miroir_cluster "main"
