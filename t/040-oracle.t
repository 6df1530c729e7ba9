# The read path's correctness oracle: the same random documents in one
# emulated node and in a Miroir cluster (3 nodes, RF 2); ~100 random
# searches (q, filters, sort, facets, offset/limit and page modes,
# attributesToRetrieve, GET and POST) must give what the single node gives,
# tied runs aside; pages never repeat nor skip a hit; documents, single
# documents and stats match; then again with a node killed (no failed
# search), and with two nodes down: 503 miroir_shards_unavailable, or with
# allow_partial on the partial result and X-Miroir-Missing-Shards.
# Then 3 nodes RF 3 (one node answers alone), 5 nodes RF 3 with one then
# two nodes killed (the two-failure restrictions), and 5 nodes RF 1 with
# weights; and 3 nodes RF 2 with hedge_after 40ms and a node answering in
# 0-160 ms (hedged merges must be exact too).
# The work is done by t/040-oracle.py; each of its checks is a test here.
# MIROIR_ORACLE_SEED fixes the seed (default: a fixed one).

use strict;
use warnings;
use Test::More;

my $module = $ENV{TEST_NGINX_LOAD_MODULES} // 'objs/ngx_miroir_module.so';
($module) = split ' ', $module;
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $seed = $ENV{MIROIR_ORACLE_SEED} // 20261125;

plan skip_all => "no module at $module" unless -f $module;

my @runs = (
    [ '--nodes', 3, '--rf', 2, '--queries', 100, '--kill', 1 ],
    [ '--nodes', 3, '--rf', 3, '--queries', 40, '--kill', 2 ],
    [ '--nodes', 5, '--rf', 3, '--queries', 40, '--kill', 1, '--kill2', 4 ],
    [ '--nodes', 5, '--rf', 1, '--queries', 40, '--kill', 0,
      '--weights', '1,1,2,1,1' ],
    [ '--nodes', 3, '--rf', 2, '--queries', 40, '--kill', 0,
      '--hedge', 40 ],
);

for my $run (@runs) {
    my @cmd = ('python3', 't/040-oracle.py', '--nginx', $nginx,
               '--module', $module, '--seed', $seed, @$run);
    open(my $fh, '-|', @cmd) or die "cannot run @cmd: $!";
    my $n = 0;
    while (my $line = <$fh>) {
        chomp $line;
        if ($line =~ /^(not )?ok \d+ - (.*)$/) {
            ok(!$1, "@$run: $2");
            $n++;
        } elsif ($line =~ /^#/) {
            diag($line) if $line =~ /^#   / || $line =~ /seed/;
        }
    }
    close($fh);
    ok($? == 0 && $n > 0, "@$run: oracle run finished ($n checks)");
}

done_testing();
