# The golden transcript of a real Meilisearch 1.50.0 (t/golden/
# meilisearch-1.50.0.json, 163 requests) replayed as in
# t/045-golden-cluster.t, through a cluster with `stable_ties on`: the
# hidden `<primaryKey>:asc` rule must never show (settings, ranking rules,
# task details, ranking details are all compared), and since the recording
# inserted its documents in id order, Meilisearch's own tie order is the
# primary key order there: the tie steps that differ without stable_ties
# (search-empty-q, search-offset-limit, search-page, search-distinct) now
# match.  Only the document lists (node order) remain, as documented in
# docs/differences.md.

use strict;
use warnings;
use Test::More;
use Miroir::Nodes;
use Miroir::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set'
    unless Miroir::Nginx::module_path();

my $master = 'golden-master-key-0123456789';
my $nodekey = 'node-key-0123456789';

# documented in docs/differences.md: document lists in node order
my %known = map { $_ => 1 } qw(
    docs-list docs-list-fields docs-list-filter docs-fetch
    docs-count-after-deletes csv-get
);

Miroir::Nodes::start(count => 3, master_key => $nodekey);

my $base = Miroir::Nginx::start(workers => 2, http => <<"_EOC_");
    miroir_zone miroir 4m;
    miroir_cluster main {
        shards 64;
        replication 2;
        stable_ties on;
        master_key "$master";
        node n1 $ENV{TEST_NGINX_NODE1} key=$nodekey;
        node n2 $ENV{TEST_NGINX_NODE2} key=$nodekey;
        node n3 $ENV{TEST_NGINX_NODE3} key=$nodekey;
    }
    server {
        listen 127.0.0.1:\$PORT;
        location / { miroir main; }
    }
_EOC_

my $out = `python3 t/golden/replay.py --url $base --master-key $master t/golden/meilisearch-1.50.0.json 2>&1`;
my %failed = map { $_ => 1 } $out =~ /^FAIL (\S+):/mg;
my ($pass, $fail) = $out =~ /^golden semantic: (\d+) passed, (\d+) failed$/m;

ok(defined $pass, 'the replay ran to its end') or diag($out);
is($pass + $fail, 163, 'every step was sent');

for my $step (sort keys %failed) {
    ok($known{$step}, "step $step matches, or is a documented difference")
        or diag(join "\n", grep { /^(FAIL $step:|   )/ } split /\n/, $out);
}

for my $step (qw(search-empty-q search-offset-limit search-page
                  search-distinct)) {
    ok(!$failed{$step}, "tie step $step matches with stable_ties on");
}

for my $step (sort keys %known) {
    ok($failed{$step}, "documented difference $step still differs (else update docs/differences.md)");
}

unlike(Miroir::Nginx::error_log(), qr/\[alert\]|\[crit\]|exited on signal/,
       'no alert, no crashed worker');

done_testing();
