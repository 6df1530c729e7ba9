# The demo search page (conf/instantsearch/: InstantSearch.js with
# Meilisearch's InstantSearch adapter) served by the example configuration
# conf/miroir-instantsearch.conf next to the Miroir API, in headless
# Chromium (Debian's chromium, driven over the DevTools protocol by
# t/js/instantsearch-check.mjs).
#
# The page is bundled with esbuild into build/instantsearch/ first.  The
# http block of the example configuration is used as it is, with only the
# node addresses, the port, the state directory and the page's directory
# replaced.  Three emulated nodes, replication 2, the sample movies loaded
# with bin/load-sample through Miroir.  Then, in the browser: hits render
# with the placeholder total, typing "harbor" narrows them to the API's hits
# and highlights the match, the query lands in the URL, a genre refines
# them, a URL with ?movies[query]=... opens that search, no request leaves
# the origin, no console error.  Screenshots are kept in build/artifacts/
# (instantsearch.png after typing, instantsearch-initial.png).
#
# Needs node, chromium and t/js/node_modules (npm ci --prefix t/js).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Cwd ();
use File::Temp ();
use Miroir::Nodes;
use Miroir::Nginx;

my $chromium = (grep { -x } '/usr/bin/chromium', '/usr/bin/chromium-browser')[0];
my $node = `sh -c 'command -v node' 2>/dev/null`;
chomp $node;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set' unless Miroir::Nginx::module_path();
plan skip_all => 'chromium not installed' unless $chromium;
plan skip_all => 'node not installed' unless $node;
my ($node_major) = `'$node' --version` =~ /^v(\d+)\./;
plan skip_all => 'node 18 or later needed' unless ($node_major // 0) >= 18;
plan skip_all => 'npm packages not installed (npm ci --prefix t/js)'
    unless -d 't/js/node_modules/instantsearch.js';

my $top = Cwd::abs_path('.');
my $site = "$top/build/instantsearch";

# ---- the page, bundled
my $out = `'$node' t/js/build-instantsearch.mjs '$site' 2>&1`;
is($?, 0, 'the page is bundled into build/instantsearch/') or diag($out);
ok(-s "$site/index.html" && -s "$site/app.js", 'index.html and app.js are there');

# ---- the example configuration, with this test's nodes and port
my $key = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $key);

my $conf = do {
    open my $in, '<', 'conf/miroir-instantsearch.conf' or die $!;
    local $/;
    <$in>;
};
my ($http) = $conf =~ /^http \{\n(.*)^\}\s*\z/ms or BAIL_OUT('no http block');
my $state = File::Temp::tempdir(CLEANUP => 1);
my ($master) = $http =~ /master_key\s+"([^"]+)"/;
my $subst = 0;
$subst += $http =~ s{^\s*access_log [^;]+;\n}{}m;
$subst += $http =~ s{miroir_state\s+\S+;}{miroir_state $state;};
$subst += $http =~ s{listen\s+127\.0\.0\.1:7700;}{listen 127.0.0.1:\$PORT;};
$subst += $http =~ s{alias\s+/tmp/miroir/instantsearch/;}{alias $site/;};
$subst += $http =~ s{node n(\d) 127\.0\.0\.1:\d+ key=[^;]*;}
                    {"node n$1 $ENV{\"TEST_NGINX_NODE$1\"} key=$key;"}ge;
is($subst, 7, 'the example configuration has the expected lines to adapt');

my $base = Miroir::Nginx::start(http => $http);

# ---- the sample data, through Miroir
my $load = `bin/load-sample '$base' '$master' 2>&1`;
is($?, 0, 'bin/load-sample loads conf/sample/movies.json through Miroir') or diag($load);
like($load, qr/index movies has 400 documents/, 'the index has the 400 sample movies')
    or diag($load);

# ---- what nginx serves
my $ua = HTTP::Tiny->new(timeout => 5);
my $res = $ua->get("$base/search/");
is($res->{status}, 200, 'GET /search/ serves the page');
like($res->{headers}{'content-type'} // '', qr{^text/html}, 'as HTML');
unlike($res->{content}, qr{(?:src|href)="(?:https?:)?//}, 'the page loads no external asset');
$res = $ua->get("$base/search/app.js");
like($res->{headers}{'content-type'} // '', qr{^application/javascript},
     'app.js is served as JavaScript');
$res = $ua->get("$base/search/config.js");
like($res->{content}, qr/window\.MIROIR_SEARCH = \{ indexUid: "movies", apiKey: "\Q$master\E" \}/,
     'config.js gives the page its index and key');
is(HTTP::Tiny->new(max_redirect => 0)->get("$base/search")->{status}, 301,
   '/search redirects to /search/');

# ---- in the browser
$out = `'$node' t/js/instantsearch-check.mjs '$base/search/' '$base' '$master' '$top/build/artifacts' 2>&1`;
my $rc = $? >> 8;
my @lines = split /\n/, $out;
my ($plan) = $out =~ /^1\.\.(\d+)$/m;
my $steps = 0;
for (my $i = 0; $i < @lines; $i++) {
    my ($not, $name) = $lines[$i] =~ /^(not )?ok \d+ - (.*)$/ or next;
    $steps++;
    my @diag;
    push @diag, $lines[++$i] =~ s/^#   //r while $i + 1 < @lines && $lines[$i + 1] =~ /^#   /;
    ok(!$not, "browser: $name") or diag(join "\n", @diag);
}
ok($plan && $steps == $plan, "browser: every step reported ($steps steps)") or diag($out);
is($rc, 0, 'browser: exit code 0');
ok(-s "$top/build/artifacts/instantsearch.png", 'screenshot kept in build/artifacts/instantsearch.png');

my @err = grep { /\[(alert|crit|emerg)\]|exited on signal/ } split /\n/, Miroir::Nginx::error_log();
is(scalar(@err), 0, 'no worker crash or alert in the error log') or diag(join "\n", @err);

done_testing();
