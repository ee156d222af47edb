using System.Globalization;
using Ship.Datasets;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Datasets.Readers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>The study's data: intensities in [0, 1] (train and test parts) and how they become spike trains.</summary>
public sealed class StudyData : IDisposable
{
    private StudyData(LabeledSet train, LabeledSet test, int classes, string description)
    {
        Train = train;
        Test = test;
        Classes = classes;
        Description = description;
    }

    /// <summary>Training samples [n, N] in [0, 1] and labels.</summary>
    public LabeledSet Train { get; }
    /// <summary>Test samples [n, N] in [0, 1] and labels.</summary>
    public LabeledSet Test { get; }
    /// <summary>Input channels N.</summary>
    public int Inputs => (int)Train.Inputs.shape[1];
    /// <summary>Number of classes (largest label + 1).</summary>
    public int Classes { get; }
    /// <summary>One line for the summary.</summary>
    public string Description { get; }

    /// <summary>
    /// Loads the data set: the embedded digits (pixels / 16, seeded stratified hold-out), an MNIST-style IDX folder (its own
    /// train / t10k parts, pixels / 255) or a CSV file (one sample per row, numeric features then an integer label in the
    /// last column, optional header; features divided by their largest value; seeded stratified hold-out).
    /// </summary>
    public static StudyData Load(DatasetSpec spec, double testFraction, long seed)
    {
        switch (spec.Kind)
        {
            case "digits":
            {
                var (train, test) = Digits.Split(testFraction, seed, normalize: true);
                return new StudyData(train, test, Digits.Classes,
                    $"embedded 8×8 digits (UCI, CC BY 4.0): {train.Count} train / {test.Count} test samples, {Digits.Pixels} pixels, seeded stratified {testFraction:P0} hold-out (seed {seed})");
            }
            case "idx":
            {
                var train = Idx.LoadFolder(spec.Path!, train: true, normalize: true);
                var test = Idx.LoadFolder(spec.Path!, train: false, normalize: true);
                int classes = (int)Math.Max(train.Labels.max().item<long>(), test.Labels.max().item<long>()) + 1;
                return new StudyData(train, test, classes,
                    $"IDX folder {spec.Path}: {train.Count} train / {test.Count} test samples, {train.Inputs.shape[1]} inputs, {classes} classes");
            }
            case "csv":
            {
                using var all = ReadCsv(spec.Path!);
                var (train, test) = all.Split(testFraction, seed);
                int classes = (int)all.Labels.max().item<long>() + 1;
                return new StudyData(train, test, classes,
                    $"CSV file {spec.Path}: {train.Count} train / {test.Count} test samples, {train.Inputs.shape[1]} features, {classes} classes, seeded stratified {testFraction:P0} hold-out (seed {seed})");
            }
            default:
                throw new ArgumentException($"Unknown data set kind '{spec.Kind}'.");
        }
    }

    private static LabeledSet ReadCsv(string path)
    {
        // A header is present when a field of the first line is not a number.
        string first = Ship.Core.Errors.UserFiles.Open(path, "a CSV data set (features..., label)", p => File.ReadLines(p).FirstOrDefault(l => l.Trim().Length > 0))
            ?? throw DataFormatException.AtLine(path, 1, "the file is empty.");
        bool header = first.Split(',').Any(f => !double.TryParse(f.Trim().Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        int fields = first.Split(',').Length;
        if (fields < 2) throw DataFormatException.AtLine(path, 1, "needs at least one feature column and a label column (comma-separated).");
        using var ts = CsvTimeSeries.Read(path, new CsvTimeSeriesOptions
        {
            HasHeader = header,
            ColumnIndices = Enumerable.Range(0, fields - 1).ToArray(),
            LabelColumnIndex = fields - 1,
        });
        var x = ts.Values.clone();
        double min = x.min().item<float>();
        if (min < 0) throw DataFormatException.AtLine(path, 1, $"features must be ≥ 0 to be encoded as spike rates or latencies; the smallest is {min}.");
        double max = x.max().item<float>();
        if (max > 0) x.div_(max);
        var y = ts.Labels!.clone();
        if (y.min().item<long>() < 0) throw DataFormatException.AtLine(path, 1, "labels must be integers ≥ 0.");
        return new LabeledSet(x, y);
    }

    /// <summary>
    /// Spike trains [n, steps, N] for intensities x [n, N] in [0, 1]: rate coding (Bernoulli, p = x·maxRate·dt per step,
    /// drawn from <paramref name="rng"/>) or linear latency coding (x = 1 fires first, 0 never).
    /// </summary>
    public static Tensor Encode(Tensor x, StudySettings s, torch.Generator rng) => s.Encoding switch
    {
        "latency" => TimeToFirstSpike.Linear(x, s.Steps, s.Dt, xMax: 1),
        _ => RateEncoder.Encode(x, s.Steps, s.Dt, s.MaxRate, rng),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
