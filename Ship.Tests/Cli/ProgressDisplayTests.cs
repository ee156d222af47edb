using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Cli;
using Spectre.Console;

namespace Ship.Tests.Cli;

/// <summary>The live progress display stays one line per stage at a narrow terminal (80 columns).</summary>
public partial class ProgressDisplayTests
{
    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]")]
    private static partial Regex Ansi();

    private static string[] RenderAt(int width, string title, string status)
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
        });
        console.Profile.Width = width;
        console.Profile.Height = 40;
        var reporter = new Reporter(console, live: true);
        reporter.Stage(title, 10, p =>
        {
            for (int i = 0; i < 10; i++)
            {
                p.Advance(1, status);
                Thread.Sleep(25); // let the display refresh (every 100 ms) draw intermediate frames
            }
            return 0;
        });
        return Ansi().Replace(text.ToString(), "").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
    }

    [TestCase(80)]
    [TestCase(60)]
    [TestCase(120)]
    public void LongStatusesStayOnOneLineWithThePercentage(int width)
    {
        var lines = RenderAt(width, "Training hardware-aware (4 levels)", "seed 3 hardware-aware, epoch 5/5, loss 0.123456789, a long status");
        var last = lines.Last(l => l.Contains('%'));
        Assert.That(last, Does.Contain("100%"), $"the percentage is whole on one line:\n{string.Join("\n", lines)}");
        Assert.That(last, Does.StartWith("Training"), $"…the line of its stage:\n{string.Join("\n", lines)}");
        Assert.That(lines.All(l => l.Length <= width), $"no line is wider than the terminal:\n{string.Join("\n", lines)}");
        Assert.That(lines.Any(l => Regex.IsMatch(l.Trim(), @"^\d{1,3}%?$")), Is.False, $"no percentage wrapped into a column:\n{string.Join("\n", lines)}");
    }
}
