package Miroir::Nodes;

# Emulated Meilisearch nodes around a t/*.t file.  Not part of Test::Nginx:
# it only sets $ENV{TEST_NGINX_NODE<i>} and $ENV{TEST_NGINX_NODE<i>_PORT},
# which both Miroir's runner and the real Test::Nginx substitute into
# "--- config" sections, so a .t file using it runs under either.
#
#   use Test::Nginx::Socket 'no_plan';
#   use Miroir::Nodes;
#   Miroir::Nodes::start(count => 3, master_key => 'masterKey');
#   run_tests();
#
# start() runs `t/meilisim/start-nodes N --dir DIR [--master-key K]`, which
# starts N emulator nodes on free ports, prints "n<i> 127.0.0.1:<port>" lines
# and writes DIR/nodes and DIR/node<i>.pid.  The nodes are stopped by stop(),
# from an END block, or when the test is interrupted (INT, TERM, HUP), with
# `t/meilisim/stop-nodes DIR` and then by pid.
#
# MIROIR_START_NODES / MIROIR_STOP_NODES override the two scripts.

use strict;
use warnings;

use Cwd ();
use File::Path ();
use File::Temp ();
use HTTP::Tiny ();
use POSIX ();
use Time::HiRes ();

# t/meilisim, found from this file so the cwd does not matter
my $Meilisim = do {
    (my $d = Cwd::abs_path(__FILE__)) =~ s{/lib/Miroir/Nodes\.pm$}{};
    "$d/meilisim";
};
our $StartScript = $ENV{MIROIR_START_NODES} || "$Meilisim/start-nodes";
our $StopScript  = $ENV{MIROIR_STOP_NODES}  || "$Meilisim/stop-nodes";

# restart_node($i) runs this (see restart_node)
our $RestartCommand;

our $Dir;            # DIR given to start-nodes
our $MasterKey;
our @ExtraArgs;
our @Nodes;          # [i] = { addr => '127.0.0.1:P', port => P }, 1-based
my $OwnDir;          # DIR is ours to delete
my $Parent = $$;

sub start {
    my %opt = @_;
    my $count = $opt{count} || 1;
    stop() if $Dir;

    $MasterKey = $opt{master_key};
    if ($opt{dir}) {
        $Dir = $opt{dir};
        File::Path::mkpath($Dir) unless -d $Dir;
    } else {
        $Dir = File::Temp::tempdir('miroir-nodes-XXXXXX', TMPDIR => 1);
        $OwnDir = 1;
    }
    my $script = $opt{script} || $StartScript;
    my @cmd = ($script, $count, '--dir', $Dir);
    push @cmd, '--master-key', $MasterKey if defined $MasterKey;
    # extra meilisim arguments (faults, latency) for every node
    @ExtraArgs = $opt{args} ? @{ $opt{args} } : ();
    push @cmd, '--', @ExtraArgs if @ExtraArgs;

    my $out = run_capture(@cmd);
    if ($? != 0) {
        stop();
        die "Miroir::Nodes: '@cmd' failed (exit " . ($? >> 8) . "):\n$out";
    }

    @Nodes = ();
    for my $line (split /\n/, $out) {
        next unless $line =~ /^n(\d+)\s+(\S+):(\d+)\s*$/;
        $Nodes[$1] = { addr => "$2:$3", host => $2, port => $3 };
        $ENV{"TEST_NGINX_NODE$1"} = "$2:$3";
        $ENV{"TEST_NGINX_NODE$1_PORT"} = $3;
    }
    my $got = grep { defined } @Nodes;
    if ($got != $count) {
        stop();
        die "Miroir::Nodes: expected $count nodes from '@cmd', got $got:\n$out";
    }
    $ENV{TEST_NGINX_NODE_COUNT} = $count;
    $ENV{TEST_NGINX_NODES_DIR} = $Dir;
    $ENV{TEST_NGINX_MASTER_KEY} = $MasterKey if defined $MasterKey;
    return count();
}

sub count { return scalar grep { defined } @Nodes; }
sub addr { my $i = shift; return $Nodes[$i] && $Nodes[$i]{addr}; }
sub port { my $i = shift; return $Nodes[$i] && $Nodes[$i]{port}; }
sub dir { return $Dir; }

sub stop {
    return unless $Dir;
    my $dir = $Dir;
    run_capture($StopScript, $dir) if -x $StopScript;
    # whatever stop-nodes missed (or when it is absent)
    for my $i (1 .. $#Nodes) {
        next unless $Nodes[$i];
        kill_pid(node_pid($i));
    }
    if (opendir my $dh, $dir) {
        for my $f (grep { /^node\d+\.pid$/ } readdir $dh) {
            kill_pid(read_pid("$dir/$f"));
        }
        closedir $dh;
    }
    File::Path::rmtree($dir) if $OwnDir;
    for my $i (1 .. $#Nodes) {
        delete $ENV{"TEST_NGINX_NODE$i"};
        delete $ENV{"TEST_NGINX_NODE${i}_PORT"};
    }
    @Nodes = ();
    undef $Dir;
    undef $OwnDir;
}

# SIGTERM, then SIGKILL after 2 s; returns the pid that was killed.
sub kill_node {
    my ($i) = @_;
    my $pid = node_pid($i);
    die "Miroir::Nodes: no pid for node $i\n" unless $pid;
    kill_pid($pid, $_[1]);
    return $pid;
}

# Freeze / thaw a node (a hung node: connections open, no answers).
sub pause_node { my $pid = node_pid($_[0]); kill 'STOP', $pid if $pid; }
sub resume_node { my $pid = node_pid($_[0]); kill 'CONT', $pid if $pid; }

# Start node $i again on the same port and data dir, and wait until it
# listens.  %opt: args => [meilisim arguments] replaces the arguments given
# to start() for this node (e.g. ['--latency-ms', 500]).
# With t/meilisim this runs t/meilisim/meilisim --listen 127.0.0.1:PORT
# --data-dir DIR/node<i> --name n<i> directly; with MIROIR_START_NODES set
# it runs `$MIROIR_START_NODES --dir DIR --restart I [--master-key K]`.
# $Miroir::Nodes::RestartCommand = sub { my ($i, $dir, $port) = @_; ... }
# overrides both.
sub restart_node {
    my ($i, %opt) = @_;
    my $n = $Nodes[$i] or die "Miroir::Nodes: no node $i\n";
    my $pid = node_pid($i);
    kill_pid($pid) if $pid && alive($pid);
    my @extra = $opt{args} ? @{ $opt{args} } : @ExtraArgs;
    if ($RestartCommand) {
        $RestartCommand->($i, $Dir, $n->{port}, @extra);
    } elsif ($StartScript eq "$Meilisim/start-nodes"
             && -e "$Meilisim/meilisim")
    {
        my @cmd = ('python3', "$Meilisim/meilisim",
                   '--listen', "$n->{host}:$n->{port}",
                   '--data-dir', "$Dir/node$i", '--name', "n$i");
        push @cmd, '--master-key', $MasterKey if defined $MasterKey;
        push @cmd, @extra;
        my $child = fork;
        die "fork: $!" unless defined $child;
        if (!$child) {
            POSIX::setsid();
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$Dir/node$i.log";
            open STDERR, '>&', \*STDOUT;
            exec @cmd or POSIX::_exit(127);
        }
        open my $o, '>', "$Dir/node$i.pid" or die "$Dir/node$i.pid: $!";
        print $o "$child\n";
        close $o;
    } else {
        my @cmd = ($StartScript, '--dir', $Dir, '--restart', $i);
        push @cmd, '--master-key', $MasterKey if defined $MasterKey;
        my $out = run_capture(@cmd);
        die "Miroir::Nodes: '@cmd' failed:\n$out" if $? != 0;
    }
    wait_port($n->{host}, $n->{port}, 10)
        or die "Miroir::Nodes: node $i did not come back on $n->{addr}\n";
    return node_pid($i);
}

sub node_pid {
    my ($i) = @_;
    return undef unless $Dir;
    return read_pid("$Dir/node$i.pid");
}

# ---------------------------------------------------------------------
# Talking to a node directly

sub url {
    my ($i, $path) = @_;
    my $addr = $i =~ /^\d+$/ ? addr($i) : $i;
    die "Miroir::Nodes: no node $i\n" unless $addr;
    $path = "/$path" unless $path =~ m{^/};
    return "http://$addr$path";
}

# Returns the HTTP::Tiny response hash (status, content, headers...).
sub http_request {
    my ($method, $i, $path, $body, %headers) = @_;
    my %h = (%headers);
    $h{Authorization} //= "Bearer $MasterKey" if defined $MasterKey;
    if (defined $body) {
        $h{'Content-Type'} //= 'application/json';
    }
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    return $http->request($method, url($i, $path), {
        headers => \%h,
        defined $body ? (content => $body) : (),
    });
}

sub http_get    { return http_request('GET', @_[0, 1], undef, @_[2 .. $#_]); }
sub http_post   { return http_request('POST', @_); }
sub http_put    { return http_request('PUT', @_); }
sub http_patch  { return http_request('PATCH', @_); }
sub http_delete { return http_request('DELETE', @_[0, 1], undef, @_[2 .. $#_]); }

# ---------------------------------------------------------------------

sub run_capture {
    my @cmd = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return $out // '';
}

sub read_pid {
    my $file = shift;
    open my $in, '<', $file or return undef;
    my $pid = <$in>;
    close $in;
    return $pid && $pid =~ /(\d+)/ ? $1 : undef;
}

sub alive {
    my $pid = shift;
    return 0 unless $pid;
    waitpid($pid, POSIX::WNOHANG());
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st>;
        return 0 if $line && $line =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

sub kill_pid {
    my ($pid, $sig) = @_;
    return unless $pid && alive($pid);
    kill 'CONT', $pid;
    kill $sig || 'TERM', $pid;
    for (1 .. 100) {
        return unless alive($pid);
        Time::HiRes::sleep(0.02);
    }
    kill 'KILL', $pid;
    for (1 .. 50) {
        return unless alive($pid);
        Time::HiRes::sleep(0.02);
    }
}

sub wait_port {
    my ($host, $port, $secs) = @_;
    require IO::Socket::INET;
    my $end = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1; }
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

END {
    if ($$ == $Parent) {
        my $status = $?;
        stop();
        $? = $status;
    }
}

# exit() runs the END blocks (also Test::Nginx's, which stops nginx)
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub {
        exit(128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1));
    } if !$SIG{$sig} || !ref $SIG{$sig};
}

1;
