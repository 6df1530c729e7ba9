# Self-test of the runner's failure path: each t/lib/fixtures/fail-*.tt
# holds a block whose expectation is wrong; running it with prove must
# fail, with the expected "not ok" line, and leave no nginx behind.
# pass-*.tt fixtures are the control: they must pass.  hang.tt is killed
# with SIGTERM while nginx runs; nginx must be stopped all the same.
#
# Runs only under Miroir's runner (it drives t/lib/Test/Nginx directly).

use strict;
use warnings;
use Test::More;
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $lib = 't/lib';
my $fx  = "$lib/fixtures";
my $tmp = File::Temp::tempdir('miroir-runner-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);

# the fixtures pick their own servroot and port
delete $ENV{$_} for grep { /^TEST_NGINX_(?:SERVROOT|SERVER_ROOT|PORT|SERVER_PORT|HTML_DIR)$/ }
                    keys %ENV;

my %fails = (
    'fail-body.tt'         => qr/^not ok \d+ - TEST 1: wrong body - response_body/m,
    'fail-status.tt'       => qr/^not ok \d+ - TEST 1: wrong status - status code ok/m,
    'fail-error-log.tt'    => qr/^not ok \d+ - .*should match a line in error\.log/m,
    'fail-no-error-log.tt' => qr/^not ok \d+ - .*"\[error\]" should not match any line/m,
    'fail-start.tt'        => qr/^not ok \d+ - TEST 1: bad directive - nginx failed to start/m,
    'fail-must-die.tt'     => qr/^not ok \d+ - .*nginx should have failed to start/m,
    'fail-header.tt'       => qr/^not ok \d+ - TEST 1: wrong header - header X-Foo ok/m,
    'fail-like.tt'         => qr/^not ok \d+ - .*response_body_like/m,
    'fail-die-hup.tt'      => qr/fixture dies on purpose/m,
);
my @pass = ('pass-hup.tt', 'pass-nodes.tt', 'pass-load-modules.tt');
my %pass_env = (
    'pass-load-modules.tt' => { TEST_NGINX_LOAD_MODULES =>
        '/nonexistent/ngx_a_module.so /nonexistent/ngx_b_module.so' },
);

# Miroir::Nodes runs this stand-in (python3 http.server) instead of the
# emulator; its temporary directories go under $tmp so leaks can be found
$ENV{MIROIR_START_NODES} = "$fx/fake-start-nodes";
$ENV{MIROIR_STOP_NODES}  = "$fx/fake-stop-nodes";
$ENV{TMPDIR} = "$tmp/nodes";
mkdir $ENV{TMPDIR};

# processes started from $tmp (fake nodes) still running
sub leftovers {
    my @left;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $in, '<', "/proc/$p/cmdline" or next;
        my $cmd = do { local $/; <$in> } // '';
        next unless index($cmd, "$tmp/") >= 0 && alive($p);
        $cmd =~ s/\0/ /g;
        push @left, "$p $cmd";
    }
    return @left;
}

sub nginx_pid_of {
    my $root = shift;
    open my $in, '<', "$root/logs/nginx.pid" or return undef;
    my $pid = <$in>;
    close $in;
    return $pid && $pid =~ /(\d+)/ ? $1 : undef;
}

sub alive {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    open my $st, '<', "/proc/$pid/stat" or return 0;
    my $line = <$st>;
    return $line !~ /^\d+ \(.*\) Z /s;
}

sub run_prove {
    my ($file, $root) = @_;
    local $ENV{TEST_NGINX_SERVROOT} = $root;
    my $out = `prove -v -I $lib $fx/$file 2>&1`;
    return ($? >> 8, $out);
}

for my $file (sort keys %fails) {
    my $root = "$tmp/$file";
    my ($rc, $out) = run_prove($file, $root);
    isnt($rc, 0, "$file: prove fails") or diag($out);
    like($out, $fails{$file}, "$file: reports the expected failure");
    my $pid = nginx_pid_of($root);
    ok(!alive($pid), "$file: no nginx left running")
        or kill 'KILL', $pid;
}

for my $file (@pass) {
    my $root = "$tmp/$file";
    local @ENV{ keys %{ $pass_env{$file} || {} } } =
        values %{ $pass_env{$file} || {} };
    my ($rc, $out) = run_prove($file, $root);
    is($rc, 0, "$file: prove passes") or diag($out);
    my $pid = nginx_pid_of($root);
    ok(!alive($pid), "$file: no nginx left running")
        or kill 'KILL', $pid;
    my @left = leftovers();
    ok(!@left, "$file: no node left running") or diag("@left");
}

# SIGTERM while a block waits: the runner's handler must stop nginx
{
    my $root = "$tmp/hang";
    local $ENV{TEST_NGINX_SERVROOT} = $root;
    my $child = fork;
    die "fork: $!" unless defined $child;
    if (!$child) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec $^X, "-I$lib", "$fx/hang.tt" or POSIX::_exit(127);
    }
    my $pid;
    for (1 .. 250) {
        $pid = nginx_pid_of($root);
        last if $pid && alive($pid) && -s "$root/logs/access.log";
        Time::HiRes::sleep(0.02);
    }
    ok(alive($pid), 'hang.tt: nginx is running while the block waits');
    ok(scalar(leftovers()), 'hang.tt: its node is running too');
    kill 'TERM', $child;
    my $t0 = time;
    while (waitpid($child, POSIX::WNOHANG()) == 0 && time - $t0 < 10) {
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', $child if kill 0, $child;
    ok(!alive($pid), 'hang.tt: nginx stopped after SIGTERM to the test')
        or kill 'KILL', $pid;
    my @left = leftovers();
    ok(!@left, 'hang.tt: node stopped after SIGTERM to the test')
        or diag("@left");
}

done_testing();
