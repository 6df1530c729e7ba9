# The short form of the bounded soak (bench/soak, `make soak` for the long
# one): wrk sends GET and POST searches for 15 s to nginx (2 workers) in
# front of 3 emulated nodes at replication 2 holding the sample movies;
# node n2 is killed (SIGKILL) after 5 s and started again after 10 s.
# Every answer must be a 2xx with the total found with every node up, with
# no socket error; the workers must be the same processes at the end, with
# no crash in the error log, an RSS at most 4 MiB above its value after the
# warm-up, the same descriptors (no client connection left, at most the
# idle keepalive pool towards the nodes).  Plain Test::More: bench/soak
# starts and stops its own nginx and nodes.

use strict;
use warnings;
use Test::More;

my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
plan skip_all => 'TEST_NGINX_LOAD_MODULES not set' unless $module && -f $module;
plan skip_all => 'wrk not installed' unless -x '/usr/bin/wrk';
plan skip_all => 'timing-bound soak: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

# Under AddressSanitizer (make test-asan) freed memory sits in ASan's
# quarantine (up to 256 MB), so the RSS bound does not apply there; every
# other check does.
my $rss_bound = $ENV{MIROIR_SANITIZED} ? 1024 * 1024 : 4096;

local $ENV{NGINX_BINARY} = $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
my $out = `bench/soak --seconds 15 --warmup 3 --rss-bound-kb $rss_bound --module '$module' 2>&1`;
my $rc = $? >> 8;
diag($out) if $rc != 0 || $ENV{TEST_VERBOSE};

is($rc, 0, 'bench/soak passed');
like($out, qr/^soak: n2 killed at /m, 'node n2 was killed during the run');
like($out, qr/^soak: n2 restarted at /m, 'node n2 was started again');
my ($line) = $out =~ /^soak: (?:PASS|FAIL) (seconds=.*)$/m;
ok(defined $line, 'bench/soak printed its figures');
my %r = map { split /=/, $_, 2 } split ' ', $line // '';
cmp_ok($r{requests} // 0, '>', 100, 'wrk made requests');
is($r{non2xx}, 0, 'no answer other than 2xx');
is($r{wrongtotal}, 0, 'every total as with every node up');
is($r{unparsed}, 0, 'every answer had its query and total');
is($r{socket_errors}, 0, 'no socket error (connect, read, write, timeout)');
cmp_ok($r{rss_growth_kb} // 1e9, '<=', $rss_bound,
       "worker RSS growth within $rss_bound kB after the warm-up");
cmp_ok($r{node_conns_end} // 1e9, '<=', 96,
       'node connections at the end within the keepalive pool (32 x 3)');

done_testing();
