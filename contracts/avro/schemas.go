// Package avrocontracts embeds the event schemas, one per Kafka topic, named <topic>.avsc. Services
// encode and decode against these files themselves, so the files are the contract.
package avrocontracts

import "embed"

// FS holds <topic>.avsc for every topic, and history/<topic>/*.avsc for every earlier version still
// readable (consumers resolve old data with the current schema).
//
//go:embed *.avsc history
var FS embed.FS
