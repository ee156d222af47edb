using NUnit.Framework;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;
using Ship.Core.Errors;
using Ship.Core.Monitors;
using Ship.Core.Persistence;
using Ship.Datasets.Readers;
using Ship.Nir;

namespace Ship.Tests.Reliability;

/// <summary>
/// Every reader of a user path, given a path that does not exist (or a folder where a file belongs, or a file where a
/// folder belongs), raises a <see cref="ShipException"/> of its own kind that names the path, what was expected there and
/// what was found — never .NET's FileNotFound/DirectoryNotFound.
/// </summary>
public class MissingFileTests
{
    private string _root = "";

    [SetUp]
    public void MakeRoot()
    {
        _root = Path.Combine(Path.GetTempPath(), "ship-missing-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void RemoveRoot()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private string Missing(string name) => Path.Combine(_root, name);

    private string AFolder(string name)
    {
        var p = Path.Combine(_root, name);
        Directory.CreateDirectory(p);
        return p;
    }

    private string AFile(string name)
    {
        var p = Path.Combine(_root, name);
        File.WriteAllText(p, "x");
        return p;
    }

    /// <summary>The readers whose user path gives a <see cref="MissingFileException"/>: name, call, and what it expects there (a word of it).</summary>
    private static IEnumerable<TestCaseData> FileReaders()
    {
        yield return new TestCaseData("Idx.ReadImages", (Action<string>)(p => Idx.ReadImages(p)), "IDX").SetName("Idx.ReadImages");
        yield return new TestCaseData("Idx.ReadLabels", (Action<string>)(p => Idx.ReadLabels(p)), "IDX").SetName("Idx.ReadLabels");
        yield return new TestCaseData("Nmnist.ReadEvents", (Action<string>)(p => Nmnist.ReadEvents(p)), "N-MNIST").SetName("Nmnist.ReadEvents");
        yield return new TestCaseData("HeidelbergSpikes.Read", (Action<string>)(p => HeidelbergSpikes.Read(p)), "SHD/SSC").SetName("HeidelbergSpikes.Read");
        yield return new TestCaseData("CsvTimeSeries.Read", (Action<string>)(p => CsvTimeSeries.Read(p)), "CSV").SetName("CsvTimeSeries.Read");
        yield return new TestCaseData("NirFile.Read", (Action<string>)(p => NirFile.Read(p)), "NIR").SetName("NirFile.Read");
        yield return new TestCaseData("NirGraph.Read", (Action<string>)(p => NirGraph.Read(p, 1e-3)), "NIR").SetName("NirGraph.Read");
        yield return new TestCaseData("Cli SafeTensors.Read", (Action<string>)(p => Ship.Cli.SafeTensors.Read(p)), "safetensors").SetName("Cli.SafeTensors.Read");
        yield return new TestCaseData("StudyData.Load (csv)", (Action<string>)(p => Ship.Cli.StudyData.Load(new Ship.Cli.DatasetSpec("csv", p), 0.2, 1)), "CSV").SetName("StudyData.Load csv");
    }

    [TestCaseSource(nameof(FileReaders))]
    public void AMissingFileNamesThePathWhatWasExpectedAndWhatWasFound(string reader, Action<string> read, string expected)
    {
        var path = Missing("nothing-here.bin");
        var e = Assert.Throws<MissingFileException>(() => read(path), reader)!;
        Assert.That(e.Path, Is.EqualTo(path), $"{reader}: the path");
        Assert.That(e.Expected, Does.Contain(expected), $"{reader}: what was expected");
        Assert.That(e.Found, Is.EqualTo("no such file"), $"{reader}: what was found");
        Assert.That(e.Message, Does.Contain(path).And.Contain(e.Expected).And.Contain("no such file"));

        var folder = AFolder("a-folder.bin");
        var f = Assert.Throws<MissingFileException>(() => read(folder), $"{reader} given a folder")!;
        Assert.That((f.Path, f.Found), Is.EqualTo((folder, "a folder")), $"{reader}: a folder where a file belongs");

        var deep = Path.Combine(_root, "no", "such", "dir", "x.bin");
        var g = Assert.Throws<MissingFileException>(() => read(deep), $"{reader} under a missing folder")!;
        Assert.That(g.Found, Does.Contain(Path.Combine(_root, "no", "such", "dir")).And.Contain($"nearest existing folder is '{_root}'"), $"{reader}: where the path goes wrong");
    }

    private static IEnumerable<TestCaseData> FolderReaders()
    {
        yield return new TestCaseData("Idx.LoadFolder", (Action<string>)(p => Idx.LoadFolder(p)), "IDX").SetName("Idx.LoadFolder");
        yield return new TestCaseData("Nmnist.LoadFolder", (Action<string>)(p => Nmnist.LoadFolder(p)), "N-MNIST").SetName("Nmnist.LoadFolder");
        yield return new TestCaseData("MonitorStream.Read", (Action<string>)(p => MonitorStream.Read(p)), "streamed monitor").SetName("MonitorStream.Read");
        yield return new TestCaseData("StudyData.Load (idx)", (Action<string>)(p => Ship.Cli.StudyData.Load(new Ship.Cli.DatasetSpec("idx", p), 0.2, 1)), "IDX").SetName("StudyData.Load idx");
        yield return new TestCaseData("EnergyStudy.Print", (Action<string>)(p => Ship.Cli.EnergyStudy.Print(p)), "settings.json").SetName("EnergyStudy.Print");
    }

    [TestCaseSource(nameof(FolderReaders))]
    public void AMissingFolderNamesThePathWhatWasExpectedAndWhatWasFound(string reader, Action<string> read, string expected)
    {
        var path = Missing("no-folder");
        var e = Assert.Throws<MissingFileException>(() => read(path), reader)!;
        Assert.That(e.Path, Does.StartWith(path), $"{reader}: the path (or the file it needs inside it)");
        Assert.That(e.Expected, Does.Contain(expected), $"{reader}: what was expected");
        Assert.That(e.Found, Does.StartWith("no such"), $"{reader}: what was found");
        Assert.That(e.Message, Does.Contain(e.Path).And.Contain(e.Expected).And.Contain(e.Found));
    }

    [Test]
    public void FolderReadersGivenAFileSayItIsAFile()
    {
        var file = AFile("not-a-folder");
        foreach (var (name, read) in new (string, Action<string>)[] { ("Idx.LoadFolder", p => Idx.LoadFolder(p)), ("MonitorStream.Read", p => MonitorStream.Read(p)) })
        {
            var e = Assert.Throws<MissingFileException>(() => read(file), name)!;
            Assert.That((e.Path, e.Found), Is.EqualTo((file, "a file")), name);
        }
    }

    [Test]
    public void AnEmptyFolderIsNamedAsOne()
    {
        var folder = AFolder("empty");
        var idx = Assert.Throws<MissingFileException>(() => Idx.LoadFolder(folder))!;
        Assert.That((idx.Path, idx.Found), Is.EqualTo((folder, "an empty folder")));
        Assert.That(idx.Expected, Does.Contain("train-images-idx3-ubyte"));
        var stream = Assert.Throws<MissingFileException>(() => MonitorStream.Read(folder))!;
        Assert.That((stream.Path, stream.Found), Is.EqualTo((folder, "a folder with neither")));
    }

    [Test]
    public void CheckpointsAndSafetensorsSayWhatIsMissing()
    {
        var none = Missing("no-checkpoint");
        var a = Assert.Throws<CheckpointException>(() => Ship.Devices.Persistence.Checkpoint.Load(none))!;
        Assert.That(a.Problem, Is.EqualTo(CheckpointProblem.NotFound));
        Assert.That(a.Message, Does.Contain(none).And.Contain("expected a checkpoint folder").And.Contain("found no such folder"));
        var empty = AFolder("empty-checkpoint");
        var b = Assert.Throws<CheckpointException>(() => Ship.Devices.Persistence.Checkpoint.Load(empty))!;
        Assert.That(b.Message, Does.Contain(empty).And.Contain(NetworkCheckpoint.ManifestFile).And.Contain("found no such file"));
        var file = AFile("a-file-not-a-checkpoint");
        var c = Assert.Throws<CheckpointException>(() => Ship.Devices.Persistence.Checkpoint.Load(file))!;
        Assert.That(c.Message, Does.Contain("found a file"));
        var st = Missing("x.safetensors");
        var d = Assert.Throws<CheckpointException>(() => SafeTensors.Read(st))!;
        Assert.That(d.Message, Does.Contain(st).And.Contain("expected a safetensors file, found no such file"));
    }

    [Test]
    public void ShardManifestsSayWhatIsMissing()
    {
        var missing = Missing("demo-shard-1-of-2.json");
        var e = Assert.Throws<Ship.Training.Sweeps.ShardException>(() => Ship.Training.Sweeps.SweepShards.ReadManifest(missing))!;
        Assert.That(e.File, Is.EqualTo(missing));
        Assert.That(e.Problem, Is.EqualTo("expected a shard manifest (JSON), found no such file."));
        Assert.That(e.InnerException, Is.InstanceOf<FileNotFoundException>(), ".NET's report kept inside");
        var folder = AFolder("a-folder.json");
        var f = Assert.Throws<Ship.Training.Sweeps.ShardException>(() => Ship.Training.Sweeps.SweepShards.ReadManifest(folder))!;
        Assert.That(f.Problem, Does.Contain("found a folder"));
    }

    [Test]
    public void MeasurementFilesAndFittedPresetsSayWhatIsMissing()
    {
        var readers = new (string, Action<string>)[]
        {
            ("ReadPulses", p => MeasurementReader.ReadPulses(p)),
            ("ReadRetention", p => MeasurementReader.ReadRetention(p)),
            ("ReadReadNoise", p => MeasurementReader.ReadReadNoise(p)),
            ("ReadCycling", p => MeasurementReader.ReadCycling(p)),
            ("FittedDevice.Load", p => FittedDevice.Load(p)),
        };
        var missing = Missing("m.csv");
        var folder = AFolder("m-folder.csv");
        foreach (var (name, read) in readers)
        {
            var e = Assert.Throws<MeasurementFileException>(() => read(missing), name)!;
            Assert.That((e.File, e.Actual), Is.EqualTo((missing, "no such file")), name);
            Assert.That(e.Expected, Does.StartWith("an existing"), name);
            var f = Assert.Throws<MeasurementFileException>(() => read(folder), name)!;
            Assert.That(f.Actual, Is.EqualTo("a folder"), name);
        }
    }
}
