# The official Meilisearch JavaScript client (npm "meilisearch", pinned in
# t/js/package.json) end to end through Miroir: t/js/client-e2e.mjs creates
# an index, configures its settings, adds the 400 sample movies, waits for
# the tasks with the client's own waitTask()/tasks.waitForTask(), searches
# (filters, sort, facets, both paginations, highlighting, facet search,
# multi-search, federated search, an invalid filter), updates, replaces and
# deletes documents, reads documents and tasks back and deletes the index.
#
# Miroir is a 3-node cluster with replication 2.  A fourth emulated node,
# alone, runs the same scenario as the reference: each step's answer through
# Miroir must equal the single node's (processingTimeMs, task uids, dates
# and the order inside runs of tied hits aside) and what the script computes
# from the documents itself.  Each step of the script is one test here.
#
# The scenario is first run against a plain node alone, so that a failure
# through Miroir is not a bug of the scenario.
#
# Needs node and t/js/node_modules (npm ci --prefix t/js).

use strict;
use warnings;
use Test::More;
use Miroir::Nodes;
use Miroir::Nginx;

my $script = 't/js/client-e2e.mjs';
my $node = `sh -c 'command -v node' 2>/dev/null`;
chomp $node;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set' unless Miroir::Nginx::module_path();
plan skip_all => 'node not installed' unless $node;
my ($node_major) = `'$node' --version` =~ /^v(\d+)\./;
plan skip_all => 'node 18 or later needed' unless ($node_major // 0) >= 18;
plan skip_all => 'npm packages not installed (npm ci --prefix t/js)'
    unless -d 't/js/node_modules/meilisearch';

# the sample data is what its generator writes
my $gen = `python3 conf/sample/generate.py`;
my $sample = do { open my $in, '<', 'conf/sample/movies.json' or die $!; local $/; <$in> };
ok($gen eq $sample, 'conf/sample/movies.json is the output of conf/sample/generate.py');

my $key = 'node-key-0123456789';
Miroir::Nodes::start(count => 4, master_key => $key);

my $base = Miroir::Nginx::start(http => <<"_EOC_");
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 256; replication 2; master_key "s3cret";
        node n1 $ENV{TEST_NGINX_NODE1} key=$key;
        node n2 $ENV{TEST_NGINX_NODE2} key=$key;
        node n3 $ENV{TEST_NGINX_NODE3} key=$key;
    }
    server {
        listen 127.0.0.1:\$PORT;
        location / { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
_EOC_

my $ref = "http://$ENV{TEST_NGINX_NODE4}";

# run the script, turn each of its TAP lines into a test of this file
sub scenario {
    my ($label, @args) = @_;
    my $out = `'$node' $script @args 2>&1`;
    my $rc = $? >> 8;
    my ($plan) = $out =~ /^1\.\.(\d+)$/m;
    my @lines = split /\n/, $out;
    my $steps = 0;
    for (my $i = 0; $i < @lines; $i++) {
        my ($not, $name) = $lines[$i] =~ /^(not )?ok \d+ - (.*)$/ or next;
        $steps++;
        my @diag;
        push @diag, $lines[++$i] =~ s/^#   //r while $i + 1 < @lines && $lines[$i + 1] =~ /^#   /;
        ok(!$not, "$label: $name") or diag(join "\n", @diag);
    }
    ok($plan && $steps == $plan, "$label: every step reported ($steps steps)")
        or diag($out);
    is($rc, 0, "$label: exit code 0") or diag((grep { /^# \d+ passed/ } @lines)[0] // $out);
}

scenario('single node', $ref, $key, '--index', 'movies_self');
scenario('miroir', $base, 's3cret', '--reference', $ref, $key);

my @err = grep { /\[(alert|crit|emerg)\]|segfault|exited on signal/ }
          split /\n/, Miroir::Nginx::error_log();
is(scalar(@err), 0, 'no worker crash or alert in the error log') or diag(join "\n", @err);

done_testing();
