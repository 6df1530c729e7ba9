package Miroir::Cluster;

# The scaffolding that the Test::Nginx suites running Miroir in front of
# emulated nodes share (not part of Test::Nginx; found through -I t/lib):
#
#   use Test::Nginx::Socket;
#   use Miroir::Cluster;
#   Miroir::Cluster::setup(nodes => 3, replication => 2, state => 1,
#                          options => 'node_timeout 2s;',
#                          hook => sub { my $block = shift; ... });
#
# starts the nodes (Miroir::Nodes, node key $NodeKey), and before each block:
#   - runs the node actions the block names: --- kill_node: 2,
#     --- restart_node: 1 2, --- pause_node: 3, --- resume_node: 3;
#   - gives it the cluster "main" as http_config (master key "s3cret") and
#     "location / { miroir main; }" as config, unless it has its own;
#   - calls hook($block) if given.
# http_config(%options) returns that http_config text, for blocks (or
# hooks) that need another replication, quorum or extra options.

use strict;
use warnings;
use File::Temp ();
use Miroir::Nodes;

our $NodeKey = 'node-key-0123456789';
our $MasterKey = 's3cret';
our %Defaults;

sub http_config {
    my %o = (%Defaults, @_);
    my $nodes = join '', map {
        "        node n$_ \$TEST_NGINX_NODE$_ key=$NodeKey;\n"
    } 1 .. $o{nodes};
    my $state = $o{state}
        ? "    miroir_state \$TEST_NGINX_MIROIR_STATE;\n" : '';
    my $options = $o{options} // '';
    $options =~ s/^\s*/        /mg if $options ne '';
    $options .= "\n" if $options ne '' && $options !~ /\n\z/;

    return <<"_EOC_";
    miroir_zone miroir $o{zone};
$state    miroir_cluster main {
        shards $o{shards};
        replication $o{replication};
        master_key "$MasterKey";
$options$nodes    }
_EOC_
}

sub setup {
    my %o = (nodes => 3, replication => 2, shards => 64, zone => '4m',
             state => 0, options => '', @_);
    my $hook = delete $o{hook};
    %Defaults = %o;

    if ($o{state}) {
        my $dir = File::Temp::tempdir(CLEANUP => 1);
        chmod 0755, $dir;       # the workers (nginx user) write in it
        $ENV{TEST_NGINX_MIROIR_STATE} = "$dir/state";
    }

    Miroir::Nodes::start(count => $o{nodes}, master_key => $NodeKey);

    my $http = http_config();

    Test::Nginx::Util::add_block_preprocessor(sub {
        my $block = shift;

        for my $action (qw(kill_node restart_node pause_node resume_node)) {
            my $v = $block->{$action} ? $block->{$action}[0] : undef;
            next unless defined $v;
            no strict 'refs';
            &{"Miroir::Nodes::$action"}($_) for split ' ', $v;
        }

        $block->set_value('http_config', $http)
            unless defined $block->{http_config};
        $block->set_value('config', "    location / { miroir main; }\n")
            unless defined $block->{config};

        $hook->($block) if $hook;
        return $block;
    });
}

1;
