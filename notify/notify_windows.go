package notify

import (
	"context"
	"os/exec"
	"strings"
)

// toast shows a Windows toast through PowerShell's access to the WinRT
// notification API; clicking it opens the link. The texts travel as
// environment variables, never inside the script.
const toast = `[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] > $null
[Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime] > $null
$x = New-Object Windows.Data.Xml.Dom.XmlDocument
$x.LoadXml('<toast activationType="protocol"><visual><binding template="ToastGeneric"><text/><text/></binding></visual></toast>')
$t = $x.GetElementsByTagName('text')
$t.Item(0).InnerText = $env:AIM_NOTE_TITLE
$t.Item(1).InnerText = $env:AIM_NOTE_BODY
$x.DocumentElement.SetAttribute('launch', $env:AIM_NOTE_LINK)
$n = New-Object Windows.UI.Notifications.ToastNotification $x
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('aim-mcp').Show($n)`

func (d *Notifier) send(ctx context.Context, n Note) error {
	cmd := exec.CommandContext(ctx, "powershell", "-NoProfile", "-NonInteractive", "-Command", toast)
	cmd.Env = append(cmd.Environ(), "AIM_NOTE_TITLE="+n.Title, "AIM_NOTE_BODY="+strings.TrimSpace(n.Body), "AIM_NOTE_LINK="+n.Link)
	return cmd.Run()
}
