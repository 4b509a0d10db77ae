package everlyticsms

import (
	"testing"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

func TestOnlyAWebhookCreatedAfterTheMarkIsTakenForTheCreates(t *testing.T) {
	since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		createdAt    string
		after, known bool
	}{
		{"created after the mark, in the install's offset", "2024-05-01T12:00:05+02:00", true, true},
		{"created a minute before the mark (clock skew)", "2024-05-01T09:59:00Z", true, true},
		{"created exactly the skew before the mark", "2024-05-01T09:58:00Z", true, true},
		{"created an hour before the mark (a dashboard twin)", "2024-05-01T09:00:00Z", false, true},
		{"no creation time in the list", "", false, false},
		{"a creation time that is not RFC 3339", "01/05/2024 10:00", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after, known := createdSince(everlytic.Webhook{CreatedAt: tc.createdAt}, since)
			if after != tc.after || known != tc.known {
				t.Errorf("createdSince = %v, %v; want %v, %v", after, known, tc.after, tc.known)
			}
		})
	}
}
