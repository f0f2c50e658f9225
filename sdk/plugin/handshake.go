package plugin

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// ProtocolVersion is the go-plugin application protocol version of this contract. It moves
// with the protobuf package: version 1 is scalelab.policy.v1.
const ProtocolVersion = 1

// PluginName is the name the policy service is dispensed under in go-plugin's plugin set.
const PluginName = "policy"

// Magic cookie of the handshake: the host sets the environment variable MagicCookieKey to
// MagicCookieValue when it starts a plugin, and Serve refuses to run without it (this is a
// guard against running a plugin by hand, not a security measure).
const (
	MagicCookieKey   = "SCALELAB_POLICY_PLUGIN"
	MagicCookieValue = "d6c1f3a0-scalelab-policy-v1"
)

// Handshake is the go-plugin handshake shared by the host and every plugin.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// GRPCPlugin is the go-plugin glue for the policy service: on the plugin side it registers
// Policy's server with the gRPC server, on the host side it returns a
// policyv1.PolicyClient. Hosts use it with a nil Policy.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Policy is served by GRPCServer; unused on the host side.
	Policy Policy
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the policy service (see NewServer).
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	policyv1.RegisterPolicyServer(s, NewServer(p.Policy))
	return nil
}

// GRPCClient returns a policyv1.PolicyClient on the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return policyv1.NewPolicyClient(c), nil
}

// PluginSet returns the go-plugin plugin set serving p under PluginName (p is nil on the
// host side).
func PluginSet(p Policy) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &GRPCPlugin{Policy: p}}
}
