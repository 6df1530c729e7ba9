package Test::Nginx::Util;

# Miroir's own, minimal re-implementation of the parts of openresty's
# Test::Nginx (https://github.com/openresty/test-nginx) that the project's
# t/*.t files use.  Test::Nginx is not packaged for Debian; this file lets
# `prove -I t/lib t/` run the same .t files unchanged.  Nothing here is
# copied from Test::Nginx; behaviour and names follow its documentation.
#
# This package holds the server manager (servroot, nginx.conf, start, stop,
# HUP) and the configuration functions; Test::Nginx::Socket holds the HTTP
# client and the checks.

use strict;
use warnings;

use Cwd ();
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use Test::More ();

use Exporter 'import';

our @EXPORT = qw(
    repeat_each no_shuffle no_root_location master_on master_off
    master_process_enabled workers worker_connections log_level
    add_block_preprocessor add_cleanup_handler env_to_nginx
    server_port server_port_for_client server_addr server_name
    server_root html_dir timeout config_preamble no_long_string
    no_nginx_manager check_accum_error_log bail_out use_hup
    is_str
);

# ---------------------------------------------------------------------
# Settings (environment variables use the real Test::Nginx names)

our $RepeatEach     = 1;
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} ? 1 : 0;
our $NoRootLocation = 0;
our $UseHup         = $ENV{TEST_NGINX_USE_HUP} ? 1 : 0;
our $MasterProcessEnabled = $UseHup ? 'on' : 'off';
our $Workers        = 1;
our $WorkerConnections = 64;
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $ConfigPreamble = '';
our $NoNginxManager = 0;
our $CheckAccumErrLog = 0;
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};

our @BlockPreprocessors;
our @CleanupHandlers;
our @EnvToNginx;

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || find_nginx();
our $ServerAddr  = '127.0.0.1';
our $ServerName  = 'localhost';
our $ServerPort  = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                   || free_port();

our $ServRoot = Cwd::abs_path('.') . '/t/servroot';
if ($ENV{TEST_NGINX_SERVROOT}) {
    $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT});
}
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $LogDir     = "$ServRoot/logs";
our $ConfFile   = "$ConfDir/nginx.conf";
our $ErrLogFile = "$LogDir/error.log";
our $PidFile    = "$LogDir/nginx.pid";

# pid of the nginx (master) we started, undef when none is running
our $NginxPid;

# nginx's own exit-time leaks, not the module's (t/valgrind.supp)
our $ValgrindSupp = $ENV{TEST_NGINX_VALGRIND_SUPP} // do {
    (my $d = Cwd::abs_path(__FILE__)) =~ s{/lib/Test/Nginx/Util\.pm$}{};
    "$d/valgrind.supp";
};

# where the next error_log check starts reading error.log
our $ErrLogFilePos = 0;

$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_PORT}      ||= $ServerPort;
$ENV{TEST_NGINX_HTML_DIR}  ||= $HtmlDir;
$ENV{TEST_NGINX_SERVER_ROOT} ||= $ServRoot;

# ---------------------------------------------------------------------
# Exported configuration functions

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach; }
sub no_shuffle { $NoShuffle = 1; }
sub no_root_location { $NoRootLocation = 1; }
sub master_on { $MasterProcessEnabled = 'on'; }
sub master_off { $MasterProcessEnabled = 'off' unless $UseHup; }
sub master_process_enabled {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled eq 'on';
}
sub workers { $Workers = shift if @_; return $Workers; }
sub worker_connections {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}
sub log_level { $LogLevel = shift if @_; return $LogLevel; }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift; }
sub add_cleanup_handler { unshift @CleanupHandlers, shift; }
sub env_to_nginx { push @EnvToNginx, @_; }
sub server_port { $ServerPort = shift if @_; return $ServerPort; }
sub server_port_for_client { return $ServerPort; }
sub server_addr { $ServerAddr = shift if @_; return $ServerAddr; }
sub server_name { $ServerName = shift if @_; return $ServerName; }
sub server_root { return $ServRoot; }
sub html_dir { return $HtmlDir; }
sub timeout { $Timeout = shift if @_; return $Timeout; }
sub config_preamble { $ConfigPreamble = shift if @_; return $ConfigPreamble; }
sub no_long_string { }
sub no_nginx_manager { $NoNginxManager = 1; }
sub check_accum_error_log { $CheckAccumErrLog = 1; }
sub use_hup { $UseHup = 1; $MasterProcessEnabled = 'on'; }

sub is_str {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is($got, $expected, $name);
}

sub bail_out {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------
# Helpers

sub find_nginx {
    for my $dir (split /:/, $ENV{PATH} || '') {
        return "$dir/nginx" if -x "$dir/nginx" && !-d "$dir/nginx";
    }
    return '/usr/sbin/nginx';
}

# A free port below the kernel's ephemeral range (32768 and up on Linux):
# the emulated nodes and every outgoing connection take ephemeral ports,
# so a port picked here is not taken by them between now and nginx's bind.
sub free_port {
    for (1 .. 200) {
        my $port = 20000 + int(rand(12000));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1)
            or next;
        close $s;
        return $port;
    }
    die "cannot find a free port: $!\n";
}

# "3", "3s", "500ms" -> seconds
sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s?$/;
    return $t;
}

# Replace $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; an unset variable is
# an error in the test file, as with the real Test::Nginx.
sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1}
            : bail_out("$name - No environment $1 defined.")
    }ge;
    return $text;
}

sub read_file_from {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return '';
    seek $in, $pos, 0 if $pos;
    local $/;
    my $data = <$in>;
    close $in;
    return defined $data ? $data : '';
}

# error.log lines not yet examined (all lines with check_accum_error_log)
sub error_log_data {
    my $pos = $CheckAccumErrLog ? 0 : $ErrLogFilePos;
    my $data = read_file_from($ErrLogFile, $pos);
    $ErrLogFilePos = $pos + length $data unless $CheckAccumErrLog;
    return [ split /^/m, $data ];
}

sub pid_alive {
    my $pid = shift;
    return 0 unless $pid;
    # reap it if it is our own child (nginx with daemon on is not)
    waitpid($pid, POSIX::WNOHANG());
    return 0 unless kill 0, $pid;
    # a zombie counts as dead
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st>;
        close $st;
        return 0 if $line && $line =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

sub children_of {
    my $ppid = shift;
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $st, '<', "/proc/$p/stat" or next;
        my $line = <$st>;
        close $st;
        next unless $line && $line =~ /^\d+ \(.*\) (\S) (\d+) /s;
        push @kids, $p if $2 == $ppid && $1 ne 'Z';
    }
    closedir $dh;
    return sort { $a <=> $b } @kids;
}

# ---------------------------------------------------------------------
# servroot and nginx.conf

sub setup_server_root {
    if ($UseHup && $NginxPid) {
        # keep logs/ (and the running server); refresh html/
        File::Path::rmtree($HtmlDir);
    } else {
        File::Path::rmtree($ServRoot) if -d $ServRoot;
        $ErrLogFilePos = 0;
    }
    for my $d ($ServRoot, $HtmlDir, $ConfDir, $LogDir) {
        File::Path::mkpath($d) unless -d $d;
        # workers run as "nobody" when the master runs as root
        chmod 0755, $d;
    }
}

sub write_user_files {
    my ($block) = @_;
    my $name = $block->name;
    my $files = section($block, 'user_files');
    return unless defined $files;

    my @list;
    if (ref $files eq 'ARRAY') {
        for my $f (@$files) {
            push @list, [ $f->[0], $f->[1], $f->[2] ];
        }
    } else {
        my ($fname, $mtime, $body);
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>>\s+(\S+)(?:\s+(\d+))?\s*$/) {
                push @list, [ $fname, $body, $mtime ] if defined $fname;
                ($fname, $mtime, $body) = ($1, $2, '');
            } elsif (defined $fname) {
                $body .= $line;
            }
        }
        push @list, [ $fname, $body, $mtime ] if defined $fname;
    }

    for my $f (@list) {
        my ($fname, $body, $mtime) = @$f;
        my $path = "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        File::Path::mkpath($dir) unless -d $dir;
        open my $out, '>', $path
            or bail_out("$name - cannot write $path: $!");
        binmode $out;
        print $out (defined $body ? $body : '');
        close $out;
        chmod 0644, $path;
        utime $mtime, $mtime, $path if defined $mtime;
    }
}

sub section {
    my ($block, $sec) = @_;
    # the filtered values; set_value() from a block preprocessor also
    # lands here, even for a section no other block has an accessor for
    my $v = $block->{$sec};
    return ref $v eq 'ARRAY' ? $v->[0] : undef;
}

sub write_config_file {
    my ($block) = @_;
    my $name = $block->name;

    my $main_config = expand_env(section($block, 'main_config') // '', $name);
    my $http_config = expand_env(section($block, 'http_config') // '', $name);
    my $config      = expand_env(section($block, 'config') // '', $name);
    my $preamble    = expand_env($ConfigPreamble, $name);

    my $load = '';
    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $m = File::Spec->rel2abs($m);
        $load .= "load_module $m;\n";
    }

    my $env = '';
    for my $e (@EnvToNginx) {
        $env .= "env $e;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $master = $UseHup ? 'on' : $MasterProcessEnabled;
    my $log_level = section($block, 'log_level') // $LogLevel;
    $log_level =~ s/^\s+|\s+$//g;

    open my $out, '>', $ConfFile
        or bail_out("$name - cannot write $ConfFile: $!");
    print $out <<"_EOC_";
# generated by t/lib/Test/Nginx (Miroir's Test::Nginx-compatible runner)
# $name
${load}worker_processes $Workers;
daemon on;
master_process $master;
error_log $ErrLogFile $log_level;
pid $PidFile;
${env}
$main_config

http {
    access_log $LogDir/access.log;
    default_type text/plain;
    keepalive_timeout 68;

    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path $ServRoot/proxy_temp;
    fastcgi_temp_path $ServRoot/fastcgi_temp;
    uwsgi_temp_path $ServRoot/uwsgi_temp;
    scgi_temp_path $ServRoot/scgi_temp;

$http_config

    server {
        listen $ServerAddr:$ServerPort;
        server_name '$ServerName';
        client_max_body_size 30M;

        # Begin preamble config...
$preamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}
_EOC_
    close $out;
}

# ---------------------------------------------------------------------
# nginx lifecycle

our $HasDashE;

sub nginx_cmd {
    if (!defined $HasDashE) {
        # -e (error log during startup) exists since nginx 1.19.5
        my $v = `$NginxBinary -v 2>&1`;
        $HasDashE = ($v =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
                     && ($1 * 1000000 + $2 * 1000 + $3) >= 1019005) ? 1 : 0;
    }
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    push @cmd, '-e', $ErrLogFile if $HasDashE;

    # TEST_NGINX_USE_VALGRIND=1 (the real module's name): nginx runs under
    # memcheck; the daemon and its workers are forks, so they stay under
    # it.  Reports go to $TEST_NGINX_VALGRIND_DIR (default: logs/).
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        my $dir = $ENV{TEST_NGINX_VALGRIND_DIR} || $LogDir;
        unshift @cmd, 'valgrind', '-q', '--tool=memcheck',
            '--leak-check=full', '--show-leak-kinds=definite',
            '--errors-for-leak-kinds=definite', '--num-callers=30',
            '--keep-debuginfo=yes',
            (-f $ValgrindSupp ? "--suppressions=$ValgrindSupp" : ()),
            "--log-file=$dir/valgrind.%p.log";
    }

    return @cmd;
}

# Run nginx (daemon on); returns 1 when it is up, 0 when it exited with
# an error (the messages are in error.log).
sub start_nginx {
    my ($name) = @_;
    my @cmd = nginx_cmd();
    warn "# starting: @cmd\n" if $Verbose;

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        # nginx copies startup errors to stderr; keep the TAP clean
        open STDOUT, '>>', "$LogDir/stderr.log";
        open STDERR, '>>', "$LogDir/stderr.log";
        # make test-valgrind: a shim that keeps the module mapped at exit
        $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_VALGRIND_PRELOAD}
            if $ENV{TEST_NGINX_USE_VALGRIND}
               && $ENV{TEST_NGINX_VALGRIND_PRELOAD};
        exec @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    if ($? != 0) {
        undef $NginxPid;
        # without -e the startup errors went to stderr only
        if (!$HasDashE) {
            my $err = read_file_from("$LogDir/stderr.log", 0);
            if (open my $o, '>>', $ErrLogFile) { print $o $err; close $o; }
        }
        return 0;
    }

    # the daemon writes its pid file right after forking
    for (1 .. ($ENV{TEST_NGINX_USE_VALGRIND} ? 1500 : 100)) {
        if (-s $PidFile) {
            my $p = read_file_from($PidFile, 0);
            if ($p =~ /(\d+)/) { $NginxPid = $1; last; }
        }
        Time::HiRes::sleep(0.02);
    }
    if (!$NginxPid) {
        bail_out("$name - nginx started but wrote no pid file $PidFile");
    }
    wait_for_port($name);
    return 1;
}

sub wait_for_port {
    my ($name) = @_;
    for (1 .. ($ENV{TEST_NGINX_USE_VALGRIND} ? 1500 : 150)) {
        my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                      PeerPort => $ServerPort,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1; }
        return 0 unless pid_alive($NginxPid);
        Time::HiRes::sleep(0.02);
    }
    Test::More::diag("$name - nginx does not accept connections on"
                     . " $ServerAddr:$ServerPort");
    return 0;
}

# QUIT, then TERM and KILL (with its workers) after a grace period.
sub stop_nginx {
    my $pid = $NginxPid;
    return unless $pid;
    undef $NginxPid;
    return unless pid_alive($pid);

    my @kids = children_of($pid);
    kill 'QUIT', $pid;
    for my $i (1 .. 200) {
        last unless pid_alive($pid);
        kill 'TERM', $pid if $i == 100;
        Time::HiRes::sleep(0.02);
    }
    if (pid_alive($pid)) {
        Test::More::diag("nginx $pid did not quit; killing it");
        @kids = (@kids, children_of($pid));
        kill 'KILL', $pid;
    }
    # workers of a killed master would linger
    for my $k (@kids) {
        kill 'KILL', $k if pid_alive($k);
    }
}

# HUP the running master and wait until its old workers are gone.
sub reload_nginx {
    my ($name) = @_;
    my @old = children_of($NginxPid);
    my $logpos = -s $ErrLogFile || 0;
    kill 'HUP', $NginxPid;
    for (1 .. 250) {
        Time::HiRes::sleep(0.02);
        my %now = map { $_ => 1 } children_of($NginxPid);
        my $gone = !grep { $now{$_} } @old;
        return 1 if $gone && %now;
        # a rejected configuration keeps the old workers
        my $new = read_file_from($ErrLogFile, $logpos);
        return 0 if $new =~ /\[emerg\]/;
    }
    Test::More::diag("$name - nginx did not finish reloading");
    return 0;
}

sub nginx_running {
    return $NginxPid && pid_alive($NginxPid);
}

sub cleanup {
    stop_nginx();
    while (my $h = shift @CleanupHandlers) {
        eval { $h->(); 1 } or warn "cleanup handler failed: $@";
    }
}

my $Parent = $$;

END {
    if ($$ == $Parent) {
        my $status = $?;
        cleanup();
        $? = $status;
    }
}

# A signal must not leave nginx behind: exit() runs the END blocks (ours
# and Miroir::Nodes').  A server closing early must not kill the test.
$SIG{PIPE} = 'IGNORE';
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { exit(128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1)) };
}

1;
