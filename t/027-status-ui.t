# The status page GET /_miroir/ui in headless Chromium (Debian's chromium):
# the page loads without console errors, asks the status API with the master
# key given in the URL fragment, and shows the cluster health, every node
# with its state, and the shard map.  A screenshot is kept as a test
# artifact in build/artifacts/status-ui.png.  /_miroir/health and
# /_miroir/status are checked directly too (green, then yellow with a node
# down).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use File::Path ();
use File::Temp ();
use Miroir::Nodes;
use Miroir::Nginx;

my $chromium = (grep { -x } '/usr/bin/chromium', '/usr/bin/chromium-browser')[0];
plan skip_all => 'TEST_NGINX_LOAD_MODULES not set'
    unless Miroir::Nginx::module_path();
plan skip_all => 'chromium not installed' unless $chromium;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

my $base = Miroir::Nginx::start(http => <<"_EOC_");
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 256; replication 2; master_key "s3cret"; node_timeout 500ms;
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

my $http = HTTP::Tiny->new(timeout => 5,
                           default_headers => { Authorization => 'Bearer s3cret' });

my $res = $http->get("$base/_miroir/health");
is($res->{status}, 200, '/_miroir/health answers');
is($res->{content},
   '{"status":"green","reasons":[],"shardsWithoutLiveCopy":0,"shardsBelowReplication":0,"shardsMoving":0,"shardsStale":0}',
   'green while every node is up');

$res = HTTP::Tiny->new->get("$base/_miroir/status");
is($res->{status}, 401, '/_miroir/status needs the master key');

$res = HTTP::Tiny->new->get("$base/_miroir/ui");
is($res->{status}, 200, 'the page itself is served without a key');
like($res->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
unlike($res->{content}, qr{https?://}, 'no external assets');

sub browse {
    my ($name) = @_;
    my $profile = File::Temp::tempdir(CLEANUP => 1);
    my @flags = ('--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', "--user-data-dir=$profile",
                 '--enable-logging=stderr', '--v=0',
                 '--virtual-time-budget=4000', '--window-size=1300,900');
    my $url = "$base/_miroir/ui#key=s3cret";
    my $dom = `$chromium @flags --dump-dom '$url' 2>$profile/stderr`;
    my $log = do { local (@ARGV, $/) = ("$profile/stderr"); <> } // '';
    File::Path::mkpath('build/artifacts');
    system("$chromium @flags --screenshot=build/artifacts/$name.png '$url' "
           . ">/dev/null 2>&1");
    return ($dom, $log);
}

my ($dom, $log) = browse('status-ui');

my @console = grep { /CONSOLE|Uncaught|ERROR:.*console/i } split /\n/, $log;
is(scalar(@console), 0, 'no console errors') or diag(join "\n", @console);
like($dom, qr{<span id="health" class="badge green">green</span>},
     'the health badge is green');
for my $n (1 .. 3) {
    like($dom, qr{<tr class="node"><td[^>]*>n$n</td><td>127\.0\.0\.1:\d+</td>},
         "node n$n is listed with its address");
}
my $cells = () = $dom =~ m{<div [^>]*title="shard \d+: n\d, n\d"}g;
is($cells, 256, 'the shard map has one cell per shard with its two owners');
like($dom, qr{<p id="rebalance">No rebalance in progress\.</p>},
     'the rebalance section shows the helper is idle');
ok(-s 'build/artifacts/status-ui.png', 'screenshot kept in build/artifacts');

$res = $http->get("$base/_miroir/status");
like($res->{content}, qr/"rebalance":\{"state":"idle","progress":\{"shardsTotal":0,/,
     'the status carries the rebalance state and progress');

# a node goes down: passive health notices after 3 failed calls
Miroir::Nodes::kill_node(2);
HTTP::Tiny->new->get("$base/health") for 1 .. 3;

$res = $http->get("$base/_miroir/health");
like($res->{content},
     qr/^\{"status":"yellow","reasons":\["node n2 is down","\d+ shard\(s\) have fewer than 2 live copies"\],"shardsWithoutLiveCopy":0,/,
     'yellow with the reasons once a node is down');

($dom, $log) = browse('status-ui-degraded');
like($dom, qr{class="badge yellow">yellow<}, 'the page shows yellow');
like($dom, qr{<td>n2</td>|>n2</td>.*?<td style="color: rgb\(201, 58, 58\);">down</td>}s,
     'the page shows n2 down');

done_testing();
