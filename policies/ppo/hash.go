package ppo

// TrainedHash returns the training hash stamped in the policy's checkpoint (the hash of
// the config it was trained from), or "" when the policy holds no trained network. A runner
// compares it with the current config's training hash to decide whether to retrain.
func (p *Policy) TrainedHash() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ckpt == nil {
		return ""
	}
	return p.ckpt.ConfigHash
}
