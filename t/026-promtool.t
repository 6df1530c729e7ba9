# The metrics page is valid Prometheus text format: `promtool check metrics`
# (Debian's prometheus package) accepts it, after traffic that fills every
# kind of series (requests, durations, node calls, a failed node).  Plain
# Test::More: this file starts its own nginx and nodes, and stops them.

use strict;
use warnings;
use Test::More;
use File::Temp ();
use HTTP::Tiny;
use Miroir::Nodes;
use Miroir::Nginx;

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
plan skip_all => 'TEST_NGINX_LOAD_MODULES not set' unless $module && -f $module;
plan skip_all => 'promtool not installed' unless -x '/usr/bin/promtool';

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

my $base = Miroir::Nginx::start(workers => 2, http => <<"_EOC_");
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64; replication 2; master_key "s3cret"; node_timeout 500ms;
        node n1 $ENV{TEST_NGINX_NODE1} key=node-key-0123456789;
        node n2 $ENV{TEST_NGINX_NODE2} key=node-key-0123456789;
        node n3 $ENV{TEST_NGINX_NODE3} key=node-key-0123456789;
    }
    server {
        listen 127.0.0.1:\$PORT;
        location / { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
_EOC_
ok($base, 'nginx started');

my $dir = File::Temp::tempdir(CLEANUP => 1);
my $http = HTTP::Tiny->new(timeout => 5,
                           default_headers => { Authorization => 'Bearer s3cret' });

$http->get("$base/health") for 1 .. 3;
$http->get("$base/version");
$http->get("$base/nope");
$http->get("$base/version", { headers => { Authorization => 'Bearer wrong' } });
Miroir::Nodes::kill_node(3);
$http->get("$base/health") for 1 .. 3;

my $res = $http->get("$base/_miroir/metrics");
is($res->{status}, 200, 'metrics answered');
like($res->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'Prometheus content type');
unlike($res->{content}, qr/node-key/, 'no node key in the metrics');
like($res->{content}, qr/miroir_node_up\{cluster="main",node="n3"\} 0/,
     'the killed node is down');

open my $p, '|-', "promtool check metrics > $dir/promtool.out 2>&1" or die;
print $p $res->{content};
close $p;
my $rc = $?;
my $out = do { local (@ARGV, $/) = ("$dir/promtool.out"); <> } // '';
is($rc, 0, 'promtool check metrics accepts the page') or diag($out);

my $noauth = HTTP::Tiny->new->get("$base/_miroir/metrics");
is($noauth->{status}, 401, 'metrics need the master key');

done_testing();
