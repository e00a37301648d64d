namespace ShampooMkl.Analysis.Experiments;

/// <summary>Receives progress of a <see cref="HessianTracking"/> run; every method has an empty default.</summary>
public interface IHessianTrackingObserver
{
    /// <summary>The run is set up: its layer and the number of steps and measurements to come.</summary>
    void OnStarted(string layerName, int rows, int cols, int steps, int measurements)
    {
    }

    /// <summary>An optimizer step finished with this mini-batch loss.</summary>
    void OnStep(int step, double loss)
    {
    }

    /// <summary>A measurement is starting at this step.</summary>
    void OnMeasuring(int step)
    {
    }

    /// <summary>A measurement finished.</summary>
    void OnMeasured(HessianMeasurement measurement)
    {
    }
}
