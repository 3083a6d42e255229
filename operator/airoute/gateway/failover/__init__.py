"""The failover policy: which backend variant a request goes to, what happens when it fails
(retry before the first byte, local ejection, degraded answer), and the routes it works on."""
