//! DHCPv4 client for Service addresses leased from the LAN (RFC 2131): wire codec and state machine.
